/**
 * Orphaned contexts: a Worker that opened a Context and then ends or is terminated
 * without close() runs no JavaScript hook, so the native side cleans up when the
 * Worker's thread exits (c/owner.h). Afterwards the process has exactly the threads
 * and descriptors it had before.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { backends, namedThreadsAfterJoin, openDescriptors, repoRoot, reportSkip, tempDir, tempFile } from "./helpers.ts";

const WORKER = join(repoRoot, "test", "fixtures", "orphan-worker.ts");
const WORKERS = 20;
const CAIO_THREADS = ["caio-wake", "caio-pool", "caio-uring-pool", "caio-aio-pool", "caio-reap"];

/** Runs one Worker that opens a Context on `backend` and never closes it; `end` says how it goes. */
async function runOrphan(backend: string, fd: number, end: "terminate" | "finish", hangFd?: number): Promise<void> {
  const worker = new Worker(WORKER);
  const closed = new Promise((resolve) => worker.addEventListener("close", resolve));
  const reply = new Promise<{ read: number }>((resolve, reject) => {
    worker.onmessage = (event) => resolve(event.data);
    worker.onerror = (event) => reject(event.error ?? new Error(String(event.message)));
  });
  worker.postMessage({ backend, fd, hangFd });
  expect(await reply).toEqual({ read: 16 });
  if (end === "terminate") worker.terminate();
  await closed;
}

async function caioThreads(): Promise<number[]> {
  return Promise.all(CAIO_THREADS.map((name) => namedThreadsAfterJoin(name, 0)));
}

/** The descriptor set once it stops changing (an earlier Worker's descriptors close a moment after it is gone). */
async function settledDescriptors(): Promise<string[]> {
  let last = openDescriptors();
  for (let waited = 0; waited < 2000; waited += 50) {
    await Bun.sleep(50);
    const now = openDescriptors();
    if (now.join() === last.join()) return now;
    last = now;
  }
  return last;
}

/** Descriptors settle a moment after the Worker's thread is gone (its exit runs the clean-up). */
async function descriptorsBackTo(expected: string[]): Promise<string[]> {
  for (let waited = 0; waited < 2000; waited += 20) {
    const now = openDescriptors();
    if (now.join() === expected.join()) return now;
    await Bun.sleep(20);
  }
  return openDescriptors();
}

describe.each(backends.filter((b) => b.name !== "js").map((b) => [b.name, b] as const))("%s backend orphaned by a Worker", (name, backend) => {
  reportSkip(backend);

  for (const end of ["terminate", "finish"] as const) {
    test.skipIf(!backend.available)(
      `${WORKERS} Workers that ${end === "terminate" ? "are terminated" : "end"} without close() leave no caio thread and no descriptor behind`,
      async () => {
        using file = tempFile("0123456789abcdef");
        const before = await settledDescriptors();
        for (let i = 0; i < WORKERS; i++) await runOrphan(name, file.fd, end);
        expect(await caioThreads()).toEqual(CAIO_THREADS.map(() => 0));
        expect(await descriptorsBackTo(before)).toEqual(before);
      },
      60_000,
    );
  }

  // linux refuses nothing any more but serves FIFOs from its pool; uring and thread read them asynchronously too.
  test.skipIf(!backend.available)(
    "terminating a Worker whose read nobody answers returns at once; the context is freed when the read completes",
    async () => {
      using file = tempFile("0123456789abcdef");
      using dir = tempDir();
      const fifo = join(dir, "fifo");
      expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
      const fifoFd = openSync(fifo, constants.O_RDWR); // O_RDWR: the open does not wait for a writer
      try {
        const before = await settledDescriptors();
        const started = performance.now();
        await runOrphan(name, file.fd, "terminate", fifoFd);
        // terminate() waits for the Worker's thread to exit; its exit must not wait for the read.
        expect(performance.now() - started).toBeLessThan(5_000);
        writeSync(fifoFd, Buffer.alloc(16, 1)); // the read completes; the reaper frees the context
        expect(await caioThreads()).toEqual(CAIO_THREADS.map(() => 0));
        expect(await descriptorsBackTo(before)).toEqual(before);
      } finally {
        closeSync(fifoFd);
      }
    },
    60_000,
  );
});
