/**
 * Whole-file passes for the streaming workloads (W7, W7d, W8): a contender streams the
 * file from its start, pass after pass, until the sample's time is up. Opening and
 * closing belong to each pass, as they do for a program that streams a file once.
 */
import { Context, type BackendName } from "../../src/index.ts";
import { warmPageCache } from "../files.ts";
import { failed, type Row } from "../run.ts";
import type { Role } from "../contenders.ts";

/** One pass over the file: `take` gets every item (a chunk or a line) and says whether to go on. */
export type Pass<T> = (take: (item: T) => boolean) => Promise<void>;

/** Items between clock checks: a line costs far less than reading the clock would add. */
const BETWEEN_CLOCK_CHECKS = 256;

/**
 * `count(item)` per second over passes of `pass` for `seconds`. A pass cut off by the
 * deadline counts what it got; a pass that ends must have counted `perPass` (the
 * file's bytes or lines), or the sample fails: nothing is lost or made up.
 */
export async function perSecond<T>(seconds: number, perPass: number, count: (item: T) => number, pass: Pass<T>): Promise<number> {
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let total = 0;
  while (performance.now() < deadline) {
    let got = 0;
    let items = 0;
    let cut = false;
    await pass((item) => {
      got += count(item);
      if (++items % BETWEEN_CLOCK_CHECKS !== 0 || performance.now() < deadline) return true;
      cut = true;
      return false;
    });
    if (!cut && got !== perPass) throw new Error(`a whole pass gave ${got}, not ${perPass}`);
    total += got;
  }
  return total / ((performance.now() - started) / 1000);
}

export interface PassRow {
  label: string;
  role: Role;
  family?: string;
  skipped?: string;
  /** Bytes or lines per second, one sample. */
  measure(seconds: number): Promise<number>;
}

/** A table row from a PassRow: warms the page cache (`cachedPath`) first, and reports a failure as a missing sample. */
export function passRow(name: string, seconds: number, row: PassRow, cachedPath?: string): Row<number> {
  return {
    label: row.label,
    role: row.role,
    family: row.family,
    skipped: row.skipped,
    async sample() {
      if (cachedPath) warmPageCache(cachedPath);
      try {
        return await row.measure(seconds);
      } catch (error) {
        return failed(name, row.label, (error as Error).message);
      }
    },
  };
}

/** `body` on a Context of `backend` made for one sample and closed after it. */
export async function onContext<T>(backend: BackendName, body: (ctx: Context) => Promise<T>): Promise<T> {
  const ctx = new Context({ backend });
  try {
    return await body(ctx);
  } finally {
    await ctx.close();
  }
}
