/**
 * Which reads serve which requests (glommio's read_many): the requests sorted by
 * offset, and adjacent or overlapping ones merged into one range while the merged
 * range stays within the merge limit. A gap is never read to join two ranges, and an
 * empty request needs no read at all.
 */
import type { ParsedRequests } from "./requests.ts";

export interface ReadPlan {
  /** Indices of the non-empty requests, by offset. */
  readonly order: Uint32Array;
  /** Ranges to read. */
  readonly count: number;
  /** Range r reads length[r] bytes at start[r] and serves requests order[first[r] … first[r] + members[r]). */
  readonly start: Float64Array;
  readonly length: Float64Array;
  readonly first: Uint32Array;
  readonly members: Uint32Array;
}

/** Indices of the non-empty requests, sorted by offset (a sorted batch, common for scans, skips the sort). */
function sortedRequests({ count, offsets, lengths }: ParsedRequests): Uint32Array {
  let nonEmpty = 0;
  let largest = 0;
  for (let i = 0; i < count; i++) {
    if (lengths[i]! > 0) nonEmpty++;
    if (offsets[i]! > largest) largest = offsets[i]!;
  }
  const order = new Uint32Array(nonEmpty);
  let sorted = true;
  for (let i = 0, at = 0; i < count; i++) {
    if (lengths[i] === 0) continue;
    if (at > 0 && offsets[i]! < offsets[order[at - 1]!]!) sorted = false;
    order[at++] = i;
  }
  if (sorted) return order;
  if (largest * count + count <= Number.MAX_SAFE_INTEGER) return sortByKey(order, offsets, count);
  return order.sort((a, b) => offsets[a]! - offsets[b]!);
}

/** Below this many requests an insertion sort beats the built-in one (measured at 64: 1.6 µs against 2.7). */
const INSERTION_SORT_UP_TO = 128;

/**
 * Sorts by `offset * count + index`, exact while it stays below 2^53 (files under a few
 * TiB at 64 requests): numbers compared in place, 3 to 4 times faster than a sort that
 * calls back into JavaScript for every comparison.
 */
function sortByKey(order: Uint32Array, offsets: Float64Array, count: number): Uint32Array {
  const keys = new Float64Array(order.length);
  for (let k = 0; k < order.length; k++) keys[k] = offsets[order[k]!]! * count + order[k]!;
  if (keys.length <= INSERTION_SORT_UP_TO) insertionSort(keys);
  else keys.sort();
  for (let k = 0; k < keys.length; k++) order[k] = keys[k]! % count;
  return order;
}

function insertionSort(keys: Float64Array): void {
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > key; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = key;
  }
}

/** The ranges for `requests`: one sweep over them by offset. */
export function planReads(requests: ParsedRequests, mergeLimit: number): ReadPlan {
  const { offsets, lengths } = requests;
  const order = sortedRequests(requests);
  const start = new Float64Array(order.length);
  const length = new Float64Array(order.length);
  const first = new Uint32Array(order.length);
  const members = new Uint32Array(order.length);
  let count = 0;
  let rangeStart = 0;
  let rangeEnd = 0;
  for (let k = 0; k < order.length; k++) {
    const at = offsets[order[k]!]!;
    const end = at + lengths[order[k]!]!;
    const joined = Math.max(end, rangeEnd);
    if (k > 0 && at <= rangeEnd && joined - rangeStart <= mergeLimit) {
      rangeEnd = joined;
      members[count - 1]!++;
      continue;
    }
    if (k > 0) length[count - 1] = rangeEnd - rangeStart;
    start[count] = rangeStart = at;
    rangeEnd = end;
    first[count] = k;
    members[count] = 1;
    count++;
  }
  if (count > 0) length[count - 1] = rangeEnd - rangeStart;
  return { order, count, start, length, first, members };
}
