/**
 * Wakes JavaScript when a native backend's completions arrive after the submitting
 * call: Bun polls the backend's end of a socketpair on its own event loop (see
 * c/wake.h), and every readable event calls onWake on this thread. Nothing runs on
 * Bun's fs thread pool.
 *
 * While held, the socket keeps the process alive; released, it lets the process exit.
 */
import type { Socket } from "bun";
import { closeSync } from "node:fs";

/** How often completions are polled for if the socket cannot be used. */
const POLL_MS = 1;

export class WakeSocket {
  #socket: Socket | undefined;
  #held = false;
  #closed = false;
  #poll: ReturnType<typeof setInterval> | undefined;
  /** Set once the socket failed; completions are then polled for while held. */
  #broken: string | undefined;
  /** Bun took the descriptor (and closes it); until then it is ours to close. */
  #adopted = false;

  /** Takes ownership of `fd`: it is closed with the socket. */
  constructor(
    private readonly fd: number,
    private readonly onWake: () => void,
  ) {
    const options: Bun.FdSocketOptions = {
      fd,
      socket: {
        open: (socket) => this.#adopt(socket),
        data: () => this.onWake(),
        close: () => this.#lost("it was closed"),
        error: (_socket, error) => this.#lost(error.message),
      },
    };
    try {
      // bun-types declares FdSocketOptions but no connect() overload that takes it; the runtime does.
      // Bun calls open() before connect() returns; nothing here depends on that.
      void Bun.connect(options as unknown as Bun.UnixSocketOptions).catch((error: Error) => this.#lost(error.message));
    } catch (error) {
      this.#lost((error as Error).message);
    }
  }

  /** Keeps the process alive until release(): completions are expected. */
  hold(): void {
    if (this.#held || this.#closed) return;
    this.#held = true;
    this.#socket?.ref();
    if (this.#broken) this.#poll = setInterval(this.onWake, POLL_MS);
  }

  /** Nothing is expected any more: the process may exit. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#socket?.unref();
    clearInterval(this.#poll);
    this.#poll = undefined;
  }

  /** Closes the socket (and its descriptor). The backend's own end is closed by the backend. */
  close(): void {
    if (this.#closed) return;
    this.release();
    this.#closed = true;
    this.#socket?.terminate();
    this.#socket = undefined;
  }

  #adopt(socket: Socket): void {
    this.#adopted = true;
    this.#socket = socket;
    if (this.#closed) socket.terminate();
    else if (!this.#held) socket.unref();
  }

  /** The socket is gone without close(): keep completions flowing by polling instead of hanging. */
  #lost(reason: string): void {
    if (this.#closed || this.#broken) return;
    this.#broken = reason;
    this.#socket = undefined;
    // A refused connect() leaves the descriptor open and ours.
    if (!this.#adopted) closeQuietly(this.fd);
    process.emitWarning(`caio: the completion wake-up socket failed (${reason}); polling every ${POLL_MS} ms instead`, {
      type: "CaioWarning",
      code: "CAIO_WAKE",
    });
    if (this.#held) this.#poll = setInterval(this.onWake, POLL_MS);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing left to release.
  }
}
