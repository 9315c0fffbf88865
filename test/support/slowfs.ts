/**
 * Mounts test/support/slowfs.py, a FUSE file system whose reads are slow, fail, come
 * back short or never answer, so tests can show what the JavaScript thread does while a
 * file server takes its time. Needs root, /dev/fuse and Debian's fuse3 + python3-fusepy
 * (.ci/run installs them); `slowFsUnavailable` says why not when one is missing.
 */
import { existsSync, mkdtempSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { isRoot } from "../helpers.ts";

const DAEMON = join(import.meta.dir, "slowfs.py");
const FS_NAME = "caio-slowfs";
const MOUNT_PREFIX = "caio-slowfs-";
const READY_WITHIN_MS = 10_000;
const EXIT_WITHIN_MS = 5_000;

export const MiB = 1 << 20;
/** Sizes of the files slowfs.py serves. */
export const SLOW_FILE_SIZE = 16 * MiB;
/** The most a read of `short` returns. */
export const SHORT_READ = 1000;

/** Bytes [offset, offset + length) of every slowfs file: the 8-byte little-endian word at byte 8k holds k. */
export function indexedBytes(offset: number, length: number): Buffer {
  const first = Math.floor(offset / 8);
  const words = Math.ceil((offset + length) / 8) - first;
  const out = Buffer.alloc(words * 8);
  const view = new DataView(out.buffer, out.byteOffset, out.length);
  for (let k = 0; k < words; k++) view.setUint32(k * 8, first + k, true); // k < 2^32: the high half stays 0
  return out.subarray(offset - first * 8, offset - first * 8 + length);
}

/** A Python that can import fusepy (Debian installs it for /usr/bin/python3 only), if any. */
function findPython(): string | undefined {
  for (const python of ["/usr/bin/python3", "python3"]) {
    const probe = Bun.spawnSync([python, "-c", "try:\n import fusepy\nexcept ImportError:\n import fuse; fuse.FUSE"], {
      stdout: "ignore",
      stderr: "ignore",
    });
    if (probe.exitCode === 0) return python;
  }
  return undefined;
}

function whyUnavailable(): string | undefined {
  if (!isRoot()) return "slowfs needs root to mount FUSE";
  if (!existsSync("/dev/fuse")) return "slowfs needs /dev/fuse";
  if (!python) return "slowfs needs python3-fusepy and fuse3 (apt-get install fuse3 python3-fusepy)";
  return undefined;
}

const python = isRoot() ? findPython() : undefined;
/** Why slowfs cannot be mounted here, or undefined when it can. */
export const slowFsUnavailable: string | undefined = whyUnavailable();

/** Mount points of slowfs in this mount namespace. */
export function slowFsMounts(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" "))
    .filter((fields) => fields[fields.indexOf("-") + 2] === FS_NAME && fields[4]?.includes(MOUNT_PREFIX))
    .map((fields) => fields[4]!.replace(/\\040/g, " "));
}

/**
 * Unmounts what a crashed earlier run left behind: mounts whose daemon is gone (ENOTCONN).
 * A daemon outlives its test process only briefly (end of stdin unmounts), and a live one
 * may belong to a run going on right now, so those are left alone.
 */
export function unmountLeftovers(): void {
  for (const dir of slowFsMounts()) {
    try {
      statSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOTCONN") Bun.spawnSync(["umount", "-l", dir], { stderr: "ignore" });
    }
  }
}

export interface SlowFsOptions {
  /** How long each read of `slow` sleeps. Default 5. */
  delayMs?: number;
  /** Safety net: a `hang` read answers by itself after this long. Default 30,000. */
  hangLimitMs?: number;
}

export interface SlowFs extends AsyncDisposable {
  /** The mount point: files slow, eio, short, hang. */
  dir: string;
  /** Answers every waiting (and future) read of `hang`. */
  release(): void;
}

/** Mounts slowfs in a new temp dir, once the kernel can use it; disposal unmounts it and ends the daemon. */
export async function mountSlowFs({ delayMs = 5, hangLimitMs = 30_000 }: SlowFsOptions = {}): Promise<SlowFs> {
  if (slowFsUnavailable) throw new Error(slowFsUnavailable);
  const dir = mkdtempSync(join(tmpdir(), MOUNT_PREFIX));
  const daemon = Bun.spawn(
    [python!, DAEMON, dir, "--delay-ms", String(delayMs), "--hang-limit-ms", String(hangLimitMs)],
    { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
  );
  const unmount = async () => {
    daemon.stdin.end(); // the daemon releases its hangs and unmounts itself
    if (!(await exitsWithin(daemon, EXIT_WITHIN_MS))) daemon.kill("SIGKILL");
    await daemon.exited;
    if (slowFsMounts().includes(dir)) Bun.spawnSync(["umount", "-l", dir], { stderr: "ignore" });
    rmdirSync(dir);
  };
  try {
    await waitForReady(daemon);
    if (!slowFsMounts().includes(dir)) throw new Error(`slowfs answered INIT but ${dir} is not in /proc/self/mountinfo`);
  } catch (error) {
    await unmount();
    throw error;
  }
  return {
    dir,
    release: () => {
      daemon.stdin.write("release\n");
      daemon.stdin.flush();
    },
    [Symbol.asyncDispose]: unmount,
  };
}

type Daemon = Subprocess<"pipe", "pipe", "pipe">;

/** Resolves once the daemon prints "ready" (it has answered the kernel's INIT); rejects with its stderr if it exits first. */
async function waitForReady(daemon: Daemon): Promise<void> {
  const reader = daemon.stdout.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const timer = setTimeout(() => daemon.kill("SIGKILL"), READY_WITHIN_MS);
  try {
    while (!seen.includes("ready\n")) {
      const { done, value } = await reader.read();
      if (done) {
        const stderr = await new Response(daemon.stderr).text();
        throw new Error(`slowfs exited before mounting (${daemon.signalCode ?? daemon.exitCode}): ${stderr.trim()}`);
      }
      seen += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}

async function exitsWithin(daemon: Daemon, ms: number): Promise<boolean> {
  let timer: Timer | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([daemon.exited.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
