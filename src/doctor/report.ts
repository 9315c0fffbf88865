/**
 * `caio doctor`'s findings as one object: what `--json` prints and the text report
 * renders. The shape is versioned by `schema`; fields are only ever added within one
 * version (README, "Diagnose").
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BackendName } from "../backends/index.ts";
import { Context } from "../index.ts";
import { backendReports, nativeReport, type BackendReport, type NativeReport } from "./backends.ts";
import { examineFileSystem, type FileSystemReport } from "./filesystem.ts";
import { measureBackends, skippedMeasurement, type MeasurementReport } from "./measure.ts";
import { openScratch, type Scratch } from "./scratch.ts";
import { kernelSettings, resourceLimits, systemFacts, type KernelSettings, type Limits, type SystemFacts } from "./system.ts";

export const SCHEMA = 1;

export interface DoctorReport {
  schema: typeof SCHEMA;
  /** caio's version (package.json). */
  caio: string;
  system: SystemFacts;
  settings: KernelSettings;
  limits: Limits;
  native: NativeReport;
  /** Every backend caio knows, in automatic-selection order. */
  backends: BackendReport[];
  /** The backend `new Context()` picks in this environment (CAIO_IMPL, default_implementation, automatic). */
  selected: BackendName;
  fs: FileSystemReport;
  measurement: MeasurementReport;
  /** The process exit status: 0 when a native backend works, 1 when only js does. */
  exitCode: 0 | 1;
}

export interface DoctorOptions {
  /** The directory whose file system is examined and measured. */
  dir: string;
  /** Time per backend and workload; 0 skips the measurement. */
  durationMs: number;
}

function caioVersion(): string {
  const manifest = JSON.parse(readFileSync(join(import.meta.dir, "..", "..", "package.json"), "utf8")) as { version: string };
  return manifest.version;
}

/** Opens a Context the way an application does, so CAIO_IMPL and default_implementation count. */
async function selectedBackend(): Promise<BackendName> {
  const ctx = new Context({ maxRequests: 1 });
  await ctx.close();
  return ctx.backend;
}

function tryScratch(dir: string): Scratch | string {
  try {
    return openScratch(dir);
  } catch (error) {
    return (error as { code?: string }).code ?? (error as Error).message;
  }
}

async function measure(
  scratch: Scratch | string,
  options: DoctorOptions,
  fs: FileSystemReport,
  backends: BackendReport[],
  automatic: BackendName,
): Promise<MeasurementReport> {
  if (options.durationMs === 0) return skippedMeasurement(0, "not asked for (--no-measure)");
  if (typeof scratch === "string") return skippedMeasurement(options.durationMs, `cannot create a file in ${fs.dir} (${scratch})`);
  return measureBackends({
    scratchDir: scratch.path,
    backends: backends.filter((backend) => backend.available).map((backend) => backend.name),
    direct: fs.direct.supported,
    durationMs: options.durationMs,
    automatic,
  });
}

/** Gathers everything; the only files it creates live in a scratch directory inside `dir`, removed before it returns. */
export async function diagnose(options: DoctorOptions): Promise<DoctorReport> {
  const system = systemFacts();
  const settings = kernelSettings();
  const limits = resourceLimits();
  const native = nativeReport();
  const backends = backendReports({ system, settings, limits, native });
  const selected = await selectedBackend();
  const scratch = tryScratch(options.dir);
  try {
    const fs = examineFileSystem(options.dir, typeof scratch === "string" ? null : scratch.path, typeof scratch === "string" ? scratch : undefined);
    const measurement = await measure(scratch, options, fs, backends, selected);
    const nativeWorks = backends.some((backend) => backend.available && backend.name !== "js");
    return { schema: SCHEMA, caio: caioVersion(), system, settings, limits, native, backends, selected, fs, measurement, exitCode: nativeWorks ? 0 : 1 };
  } finally {
    if (typeof scratch !== "string") scratch[Symbol.dispose]();
  }
}
