/** Taking samples: interleaved rounds over the contenders, with a progress line per sample. */
import { loadavg } from "node:os";
import type { Role } from "./contenders.ts";

const started = performance.now();
/** The 1-minute load average at every progress line: the report says how busy the machine was. */
export const loadSamples: number[] = [];

function elapsed(): string {
  const seconds = Math.round((performance.now() - started) / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** Prints one progress line stamped with the time since the bench started. */
export function progress(text: string): void {
  loadSamples.push(loadavg()[0]!);
  process.stdout.write(`[${elapsed()}] ${text}\n`);
}

/** One line of a table: how to take one sample (undefined: this sample failed, already reported). */
export interface Row<T> {
  label: string;
  role: Role;
  variant?: string;
  /** Rows of one family are charted as one bar (their best). */
  family?: string;
  /** Why this row cannot run here; it is listed, with the reason, but never sampled. */
  skipped?: string;
  sample(): Promise<T | undefined>;
}

/**
 * `runs` rounds over all rows, in order, so that drift (other load, the page cache)
 * hits every contender alike. Returns each row's samples by label.
 */
export async function interleave<T>(
  name: string,
  runs: number,
  rows: Row<T>[],
  show: (value: T) => string,
): Promise<Map<string, T[]>> {
  const samples = new Map<string, T[]>(rows.map((row) => [row.label, []]));
  for (const row of rows) if (row.skipped) progress(`${name} ${row.label}: skipped (${row.skipped})`);
  for (let run = 1; run <= runs; run++) {
    for (const row of rows) {
      if (row.skipped) continue;
      const value = await row.sample();
      if (value === undefined) continue;
      samples.get(row.label)!.push(value);
      progress(`${name} run ${run}/${runs} ${row.label}: ${show(value)}`);
    }
  }
  return samples;
}

/** A row's failure is printed once per sample and leaves no figure. */
export function failed(name: string, label: string, error: string): undefined {
  progress(`${name} ${label}: failed (${error})`);
  return undefined;
}
