/** Fairness towards the event loop: how long caio's pumps may run within one of its turns. */

/**
 * The longest caio lets microtasks alone run this thread. Cached reads complete inside
 * the submitting call, so a caller awaiting them in a loop never gives the event loop a
 * turn: timers, sockets and other callbacks would wait until the loop ends. Submission
 * always happens at the end of the tick that issued the operations (a write's bytes are
 * taken then); but once pumps have gone on for this long within one turn, the
 * completions are reaped in the event loop's next turn (setImmediate) instead of at once.
 */
const MAX_MICROTASK_RUN_MS = 2;
/** When this turn's first pump ran; meaningful while turnWatched. */
let turnStartedAt = 0;
/** A setImmediate is pending that will mark the end of the current turn. */
let turnWatched = false;

function endOfTurn(): void {
  turnWatched = false;
}

/** Whether pumps have run longer than MAX_MICROTASK_RUN_MS in this turn of the event loop (the first call of a turn starts its clock). */
export function turnOverdue(): boolean {
  const now = performance.now();
  if (!turnWatched) {
    turnWatched = true;
    turnStartedAt = now;
    setImmediate(endOfTurn);
    return false;
  }
  return now - turnStartedAt > MAX_MICROTASK_RUN_MS;
}
