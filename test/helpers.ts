/** Shared fixtures: the backend matrix and temporary files that clean themselves up. */
import { closeSync, fstatSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BACKEND_NAMES } from "../src/backends/index.ts";
import { Context, open, type BackendName, type File } from "../src/index.ts";

export interface BackendCase {
  name: BackendName;
  available: boolean;
  reason?: string;
  /** Initialises here but CAIO_TEST_BACKENDS left it out of this run. */
  leftOut?: true;
}

async function probe(name: BackendName): Promise<BackendCase> {
  try {
    await new Context({ backend: name, maxRequests: 1 }).close();
    return { name, available: true };
  } catch (error) {
    return { name, available: false, reason: (error as Error).message };
  }
}

const probed: BackendCase[] = await Promise.all(BACKEND_NAMES.map(probe));

/** Backends that initialise on this machine, whatever CAIO_TEST_BACKENDS says. */
export const availableBackends = probed.filter((b) => b.available).map((b) => b.name);

/**
 * CAIO_TEST_BACKENDS=thread,uring runs the backend matrix over those backends only (the
 * arm64 run under qemu-user leaves out js, whose code is the same on every architecture);
 * the others are skipped with that reason.
 */
const chosen = process.env.CAIO_TEST_BACKENDS?.split(",").map((name) => name.trim()).filter(Boolean);

/** Every backend caio knows, with whether the suite runs over it here and why not. */
export const backends: BackendCase[] = probed.map((b) =>
  !chosen || chosen.includes(b.name) || !b.available
    ? b
    : { name: b.name, available: false, leftOut: true, reason: `left out of this run by CAIO_TEST_BACKENDS=${chosen.join(",")}` },
);

/** Prints why a backend's suite is skipped, so a skip is never silent. */
export function reportSkip(backend: BackendCase): void {
  if (!backend.available) console.log(`[skip] ${backend.name} backend: ${backend.reason}`);
}

export const repoRoot = join(import.meta.dir, "..");

/** A scratch directory on the repository's filesystem (tmpfs would change O_DIRECT behaviour). */
export function tempDir(): string & Disposable {
  const dir = mkdtempSync(join(tmpdir(), "caio-test-"));
  return Object.assign(dir, { [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) });
}

/** A FIFO opened read-write (which never blocks on Linux): its reads wait in flight until data comes. Disposed with its directory. */
export function fifo(): { fd: number } & Disposable {
  const dir = tempDir();
  const path = join(dir, "fifo");
  const made = Bun.spawnSync(["mkfifo", path]);
  if (made.exitCode !== 0) throw new Error(`mkfifo failed: ${made.stderr}`);
  const fd = openSync(path, "r+");
  return {
    fd,
    [Symbol.dispose]() {
      closeSync(fd);
      dir[Symbol.dispose]();
    },
  };
}

export interface TempFile extends Disposable {
  path: string;
  fd: number;
}

/** Opens a new file (optionally with initial contents) in its own temp dir; disposal closes and removes it. */
export function tempFile(contents?: Uint8Array | string, flags = "w+"): TempFile {
  const dir = mkdtempSync(join(tmpdir(), "caio-test-"));
  const path = join(dir, "data");
  if (contents !== undefined) writeFileSync(path, contents);
  const fd = openSync(path, contents === undefined ? flags : flags.replace("w", "r"));
  return {
    path,
    fd,
    [Symbol.dispose]() {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The 16-byte record stored at offset i * 16 by recordBytes. */
export function record(i: number): string {
  return `rec:${String(i).padStart(11, "0")}\n`;
}

/** Deterministic contents: `count` records of 16 bytes each. */
export function recordBytes(count: number): Buffer {
  const out = Buffer.alloc(count * 16);
  for (let i = 0; i < count; i++) out.write(record(i), i * 16, "latin1");
  return out;
}

/** A descriptor number that is not open in this process. */
export function unusedFd(): number {
  for (let fd = 100_000; ; fd++) {
    try {
      fstatSync(fd);
    } catch {
      return fd;
    }
  }
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/**
 * CAIO_TEST_SLOWDOWN=10 stretches hang detectors (runBun's kill timeout) and time budgets
 * (how long an abort or a polling period may take) for an emulated run: under qemu-user
 * JavaScript runs about 10 times slower (the 65,536-op abort took 2.4-4.9 s emulated, over its 1 s budget). The
 * properties are still checked; only the time limits change.
 */
export const SLOWDOWN = Math.max(1, Number(process.env.CAIO_TEST_SLOWDOWN) || 1);

let growableProblem: string | null | undefined;

/**
 * Why a growable buffer with a small maxByteLength cannot be used in this runtime, or
 * undefined when it can. Bun aborts the whole process ("mprotect failed") under
 * qemu-user 7.2, which answers mprotect(addr, 0) with ENOMEM; a real kernel returns 0.
 * Checked once, in a child process, since a failure takes the process down.
 */
export function growableBufferProblem(): string | undefined {
  if (growableProblem === undefined) {
    const child = Bun.spawnSync(
      [process.execPath, "-e", "new SharedArrayBuffer(16, { maxByteLength: 64 }).grow(32); new ArrayBuffer(16, { maxByteLength: 64 }).resize(32)"],
      { stdout: "pipe", stderr: "pipe", timeout: 20_000 * SLOWDOWN },
    );
    const said = child.stderr.toString().trim().split("\n")[0] ?? "";
    growableProblem = child.exitCode === 0 ? null : `growable buffers with a small maxByteLength abort this Bun (exit ${child.exitCode ?? child.signalCode}: ${said})`;
  }
  return growableProblem ?? undefined;
}

export interface RunResult {
  /** null when the process was killed (a hang) */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs a script file in a fresh Bun process, optionally under a wrapper command
 * (strace ...); a hang ends in a kill (exitCode null), not a stuck suite.
 */
export async function runBun(
  script: string,
  env: Record<string, string | undefined> = {},
  wrapper: string[] = [],
): Promise<RunResult> {
  const started = performance.now();
  const child = Bun.spawn([...wrapper, process.execPath, script], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 20_000 * SLOWDOWN,
    env: { ...process.env, ...env },
  });
  const [exitCode, stdout, stderr] = await Promise.all([
    child.exited,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { exitCode: child.signalCode ? null : exitCode, stdout, stderr, ms: performance.now() - started };
}

/** Threads of this process named `name` (caio names its own: caio-pool, caio-wake). */
export function namedThreads(name: string): number {
  return readdirSync("/proc/self/task").filter((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim() === name;
    } catch {
      return false; // the thread exited while we looked
    }
  }).length;
}

/**
 * namedThreads() once the kernel has finished tearing joined threads down: pthread_join
 * returns when a thread's tid is cleared, a moment before its /proc/self/task entry goes.
 */
export async function namedThreadsAfterJoin(name: string, expected: number): Promise<number> {
  for (let waited = 0; waited < 1000 && namedThreads(name) !== expected; waited += 10) await Bun.sleep(10);
  return namedThreads(name);
}

/** Descriptors open in this process. */
export function openDescriptors(): string[] {
  return readdirSync("/proc/self/fd").sort((a, b) => Number(a) - Number(b));
}


/**
 * Runs `body` on a File opened with `flags` on a Context of `backend`, over a temp file
 * holding `contents` (none: no file yet); file, context and directory go afterwards.
 */
export async function withFile(
  backend: BackendName,
  contents: string | Uint8Array | undefined,
  flags: string,
  body: (file: File, path: string) => Promise<void>,
  options: { direct?: boolean } = {},
): Promise<void> {
  using dir = tempDir();
  const path = join(dir, "data");
  if (contents !== undefined) writeFileSync(path, contents);
  await using ctx = new Context({ backend });
  await using file = await open(path, flags, { ...options, context: ctx });
  await body(file, path);
}
