/**
 * Python caio (PyPI), the seed system, beside us on W1 and W2: the bench makes a venv
 * under bench/.data/python-caio, pip-installs the pinned version, and runs
 * python/caio_reads.py once per sample with each of its asyncio implementations. No
 * python3, no venv module (python3-venv is installed when missing if this is root) or a
 * failing pip make the rows skipped, with the reason.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { aptInstall } from "./apt.ts";
import { randomBlocks } from "./shared/loops.mjs";
import { runJsonLine, type Outcome } from "./subprocess.ts";

/** The version measured; a change of it is a change of the figures. */
export const PYTHON_CAIO_VERSION = "0.12.9";
/** The rows of one family are charted as one bar: the family's best. */
export const PYTHON_CAIO_FAMILY = "Python caio";

const SCRIPT = join(import.meta.dir, "python", "caio_reads.py");

export type PythonCaioImpl = "uring" | "linux" | "thread" | "python";

/** Every asyncio implementation of the pinned version, and linux's batching option. */
export const PYTHON_CAIO_VARIANTS: { impl: PythonCaioImpl; deferred: boolean }[] = [
  { impl: "uring", deferred: false },
  { impl: "linux", deferred: false },
  { impl: "linux", deferred: true },
  { impl: "thread", deferred: false },
  { impl: "python", deferred: false },
];

export type PythonCaio =
  | { python: string; version: string; /** linux_uring turns SQPOLL on by default where the kernel allows it. */ sqpoll: boolean }
  | { skipped: string };

let prepared: PythonCaio | undefined;

function run(argv: string[]): { ok: boolean; out: string; err: string } {
  const result = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  return { ok: result.exitCode === 0, out: result.stdout.toString().trim(), err: result.stderr.toString().trim() };
}

const lastLine = (text: string) => text.split("\n").filter(Boolean).at(-1)?.slice(0, 200) ?? "no output";

/** The venv's interpreter, its caio version and whether its uring context gets SQPOLL, or why not. */
function probe(python: string): PythonCaio | undefined {
  if (!existsSync(python)) return undefined;
  const r = run([python, "-c", "import caio, caio.linux_uring as u; print(caio.__version__, int(u.SQPOLL_ALLOWED))"]);
  const [version, sqpoll] = r.out.split(" ");
  return r.ok && version === PYTHON_CAIO_VERSION ? { python, version, sqpoll: sqpoll === "1" } : undefined;
}

function hasVenv(python3: string): boolean {
  return run([python3, "-c", "import venv, ensurepip"]).ok;
}

/** Makes the venv and installs caio once per process; cheap when it is already there. */
export function preparePythonCaio(dataDir: string): PythonCaio {
  if (prepared) return prepared;
  const dir = join(dataDir, "python-caio");
  const python = join(dir, "bin", "python");
  const ready = probe(python);
  if (ready) return (prepared = ready);
  const skip = (reason: string) => (prepared = { skipped: reason });
  const python3 = Bun.which("python3");
  if (!python3) return skip("python3 is not installed");
  if (!hasVenv(python3) && !(aptInstall("python3-venv", "python3 has no venv module") && hasVenv(python3))) {
    return skip(`python3 has no venv/ensurepip ("apt-get install python3-venv")`);
  }
  const venv = run([python3, "-m", "venv", "--clear", dir]);
  if (!venv.ok) return skip(`python3 -m venv failed: ${lastLine(venv.err)}`);
  console.log(`installing caio==${PYTHON_CAIO_VERSION} from PyPI into ${dir}`);
  const pip = run([python, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", `caio==${PYTHON_CAIO_VERSION}`]);
  if (!pip.ok) return skip(`pip install caio==${PYTHON_CAIO_VERSION} failed: ${lastLine(pip.err || pip.out)}`);
  return probe(python) ?? skip(`caio ${PYTHON_CAIO_VERSION} installed but does not import in ${python}`);
}

export function pythonCaioLabel(variant: { impl: PythonCaioImpl; deferred: boolean }, sqpoll: boolean): string {
  const options = [...(variant.impl === "uring" && sqpoll ? ["SQPOLL"] : []), ...(variant.deferred ? ["deferred"] : [])];
  return `${PYTHON_CAIO_FAMILY} ${variant.impl}${options.length > 0 ? `, ${options.join(", ")}` : ""}`;
}

const writtenSequences = new Set<string>();

/**
 * The loops' random block numbers for a file of `blocks` blocks, written once per bench
 * process (so never stale) as native 32-bit integers for the Python side to load:
 * computing them in Python takes about a second per run.
 */
export function sequenceFile(dataDir: string, blocks: number): string {
  const dir = join(dataDir, "python-caio");
  const path = join(dir, `sequence-${blocks}.u32`);
  if (!writtenSequences.has(path)) {
    writtenSequences.add(path);
    mkdirSync(dir, { recursive: true });
    const sequence = randomBlocks(blocks);
    writeFileSync(path, new Uint8Array(sequence.buffer, sequence.byteOffset, sequence.byteLength));
  }
  return path;
}

export interface PythonCaioJob {
  impl: PythonCaioImpl;
  deferred: boolean;
  file: string;
  /** sequenceFile() for this file and block size. */
  sequence: string;
  block: number;
  depth: number;
  seconds: number;
  direct: boolean;
}

/** One run of python/caio_reads.py: reads per second, or why it failed. */
export function runPythonCaio(python: string, job: PythonCaioJob): Promise<Outcome<{ iops: number }>> {
  return runJsonLine([python, SCRIPT, JSON.stringify(job)]);
}
