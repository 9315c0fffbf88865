/**
 * Files the kernel AIO path cannot handle: pipes/FIFOs and /proc. Every backend
 * reads and writes them (streams at their current position; linux through its thread
 * pool), and none ever blocks the event loop on them.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Context, type BackendName } from "../src/index.ts";
import { backends, fifo, reportSkip, tempDir } from "./helpers.ts";

async function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => (Buffer.isBuffer(value) ? value.toString() : value),
    (error) => ({ code: error.code, syscall: error.syscall, message: error.message }),
  );
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend on pipes and /proc", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);

  it("reads /proc/self/status", async () => {
    await using ctx = new Context({ backend: name as BackendName });
    const proc = openSync("/proc/self/status", "r");
    try {
      expect(await outcome(ctx.read(4096, proc, 0))).toStartWith("Name:\t");
    } finally {
      closeSync(proc);
    }
  });

  it("writes and reads a FIFO", async () => {
    using pipe = fifo();
    await using ctx = new Context({ backend: name as BackendName });
    const written = await outcome(ctx.write("through the pipe", pipe.fd, 0));
    const read = await outcome(ctx.read(64, pipe.fd, 0));
    expect([written, read]).toEqual([16, "through the pipe"]);
  });

  it("a read of an empty FIFO never blocks the event loop: it waits for data", async () => {
    using pipe = fifo();
    await using ctx = new Context({ backend: name as BackendName });
    const read = outcome(ctx.read(64, pipe.fd, 0));
    // Timers still run while the read waits, so the JavaScript thread is free.
    await Bun.sleep(20);
    writeSync(pipe.fd, "late data");
    expect(await read).toBe("late data");
  });
});
