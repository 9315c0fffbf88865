/** Command-line options of `bun run bench` (see bench/index.ts for examples). */
import { join } from "node:path";
import { parseArgs } from "node:util";

export const WORKLOAD_IDS = ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w7d", "w8", "gap", "sweep", "rss"] as const;
export type WorkloadId = (typeof WORKLOAD_IDS)[number];

export interface BenchOptions {
  runs: number;
  /** Seconds per sample in W1–W5 and W7–W8 (W6 takes half). */
  seconds: number;
  /** Seconds per sample at each depth of the sweep (it has many points). */
  sweepSeconds: number;
  sweepDepths: number[];
  /** Operations measured by the RSS check, after its warm-up. */
  rssOperations: number;
  fileBytes: number;
  only: Set<WorkloadId>;
  /** Where bench files live (gitignored). */
  dataDir: string;
  /** Where bench.md and bench.svg are written. */
  outDir: string;
  quick: boolean;
  /** Only redraw the report from outDir/bench.json. */
  replot: boolean;
}

const FULL_SWEEP = [1, 4, 16, 64, 256, 1024];
const QUICK_SWEEP = [1, 64, 1024];
const REPO = join(import.meta.dir, "..");

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!(value > 0)) fail(`--${name} takes a positive number; got "${text}"`);
  return value;
}

function parseOnly(list: string): Set<WorkloadId> {
  const names = list.split(",").map((name) => name.trim().toLowerCase()).filter((name) => name !== "");
  const unknown = names.filter((name) => !(WORKLOAD_IDS as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) fail(`--only takes a comma-separated list of ${WORKLOAD_IDS.join(", ")}; got "${list}"`);
  return new Set(names as WorkloadId[]);
}

/**
 * A quick or partial run writes its report under bench/.data so that it never replaces
 * the committed full-run report in docs/ by accident; --out overrides either.
 */
function defaultOutDir(quick: boolean, partial: boolean, dataDir: string): string {
  return quick || partial ? join(dataDir, "report") : join(REPO, "docs");
}

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      replot: { type: "boolean", default: false },
      runs: { type: "string" },
      seconds: { type: "string" },
      "sweep-seconds": { type: "string" },
      "rss-ops": { type: "string" },
      "file-mib": { type: "string", default: "256" },
      only: { type: "string", default: WORKLOAD_IDS.join(",") },
      dir: { type: "string", default: join(import.meta.dir, ".data") },
      out: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "bun run bench [-- --quick] [--only w1,w2,w3,w4,w5,w6,w7,w7d,w8,gap,sweep,rss] [--runs N] [--seconds S]\n" +
        "              [--sweep-seconds S] [--rss-ops N] [--file-mib M] [--dir DIR] [--out DIR] [--replot]",
    );
    process.exit(0);
  }
  const quick = values.quick!;
  const only = parseOnly(values.only!);
  const dataDir = values.dir!;
  return {
    quick,
    replot: values.replot!,
    runs: Math.round(positive("runs", values.runs ?? "3")),
    seconds: positive("seconds", values.seconds ?? (quick ? "0.25" : "2")),
    sweepSeconds: positive("sweep-seconds", values["sweep-seconds"] ?? (quick ? "0.2" : "1")),
    sweepDepths: quick ? QUICK_SWEEP : FULL_SWEEP,
    rssOperations: Math.round(positive("rss-ops", values["rss-ops"] ?? (quick ? "200000" : "1000000"))),
    fileBytes: Math.round(positive("file-mib", values["file-mib"]!)) * 1024 * 1024,
    only,
    dataDir,
    outDir: values.out ?? defaultOutDir(quick, only.size < WORKLOAD_IDS.length, dataDir),
  };
}
