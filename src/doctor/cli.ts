/**
 * The `caio` command line: `caio doctor [dir] [--json] [--quick | --duration=MS | --no-measure]`.
 * Exit status: 0 when a native backend works, 1 when only js does, 2 for a usage error.
 */
import { statSync } from "node:fs";
import { renderText } from "./render.ts";
import { diagnose, type DoctorOptions } from "./report.ts";

export const USAGE = `usage: caio doctor [dir] [options]

Reports which caio backends run here and why not, the fix for each, the file system
of dir (default: the current directory), and a short measurement of each backend on it.

options:
  --json           print one JSON object instead of text
  --quick          measure briefly (50 ms per backend and workload)
  --duration=MS    measure MS milliseconds per backend and workload (default 300)
  --no-measure     skip the measurement
  -h, --help       show this help

exit status: 0 a native backend works, 1 only the js backend works, 2 bad arguments`;

const DEFAULT_DURATION_MS = 300;
const QUICK_DURATION_MS = 50;
const MAX_DURATION_MS = 60_000;

interface Parsed {
  options: DoctorOptions;
  json: boolean;
}

class UsageError extends Error {}

function parseDuration(text: string): number {
  const ms = Number(text);
  if (!/^\d+$/.test(text) || ms < 1 || ms > MAX_DURATION_MS) {
    throw new UsageError(`--duration needs whole milliseconds from 1 to ${MAX_DURATION_MS}, not "${text}"`);
  }
  return ms;
}

function checkDirectory(dir: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (error) {
    throw new UsageError(`cannot examine "${dir}": ${(error as { code?: string }).code ?? (error as Error).message}`);
  }
  if (!isDirectory) throw new UsageError(`"${dir}" is not a directory`);
}

/** The doctor's arguments (after "doctor"); throws UsageError for anything it does not know. */
function parseDoctorArgs(args: string[]): Parsed {
  let json = false;
  let durationMs = DEFAULT_DURATION_MS;
  const dirs: string[] = [];
  for (const arg of args) {
    if (arg === "--json") json = true;
    else if (arg === "--quick") durationMs = QUICK_DURATION_MS;
    else if (arg === "--no-measure") durationMs = 0;
    else if (arg.startsWith("--duration=")) durationMs = parseDuration(arg.slice("--duration=".length));
    else if (arg.startsWith("-")) throw new UsageError(`unknown option "${arg}"`);
    else dirs.push(arg);
  }
  if (dirs.length > 1) throw new UsageError(`one directory at most, got ${dirs.length}: ${dirs.join(" ")}`);
  const dir = dirs[0] ?? process.cwd();
  checkDirectory(dir);
  return { options: { dir, durationMs }, json };
}

function usageError(message: string): number {
  console.error(`caio: ${message}\n\n${USAGE}`);
  return 2;
}

/** Runs the command line `args` (without the program name); resolves with the exit status. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (command === "-h" || command === "--help" || (command === "doctor" && rest.some((arg) => arg === "-h" || arg === "--help"))) {
    console.log(USAGE);
    return 0;
  }
  if (command !== "doctor") return usageError(command === undefined ? "missing command" : `unknown command "${command}"`);
  let parsed: Parsed;
  try {
    parsed = parseDoctorArgs(rest);
  } catch (error) {
    if (error instanceof UsageError) return usageError(error.message);
    throw error;
  }
  const report = await diagnose(parsed.options);
  console.log(parsed.json ? JSON.stringify(report, null, 2) : renderText(report));
  return report.exitCode;
}
