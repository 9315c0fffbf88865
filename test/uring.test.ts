/**
 * io_uring specifics: the ring works at every setup-flag fallback level an older
 * kernel would leave us at (DEFER_TASKRUN, SINGLE_ISSUER, COOP_TASKRUN and
 * SUBMIT_ALL dropped one by one), with inline and late (O_DIRECT) completions, and
 * with a polling thread (SQPOLL), granted or refused.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, constants, openSync } from "node:fs";
import { join } from "node:path";
import { OP_READ, OP_WRITE } from "../src/backends/backend.ts";
import { DEFAULT_AVOIDED_SETUP_FLAGS, OPTIONAL_SETUP_FLAGS, SETUP_SQPOLL, openUringBackend, type UringOptions } from "../src/backends/uring.ts";
import { AbortError, allocAligned, Context } from "../src/index.ts";
import { Scheduler } from "../src/scheduler.ts";
import { NO_OPTIONS } from "../src/validate.ts";
import { freshOwnView } from "../src/views.ts";
import { backends, recordBytes, reportSkip, tempDir, tempFile } from "./helpers.ts";

const uring = backends.find((b) => b.name === "uring")!;
reportSkip(uring);
const { DEFER_TASKRUN, SINGLE_ISSUER, COOP_TASKRUN, SUBMIT_ALL } = OPTIONAL_SETUP_FLAGS;

/** Whether this kernel grants SQPOLL to this process (5.11+ does to anyone; before, CAP_SYS_ADMIN only). */
function sqpollGranted(): boolean {
  if (!uring.available) return false;
  const backend = openUringBackend(1, DEFAULT_AVOIDED_SETUP_FLAGS, { sqpoll: true });
  const granted = (backend.features() & SETUP_SQPOLL) !== 0;
  backend.close();
  return granted;
}
const granted = sqpollGranted();
if (uring.available && !granted) console.log("[skip] SQPOLL: this kernel refuses it here, so only the fallback is tested");

const levels: [string, number, UringOptions][] = [
  ["every optional flag", 0, {}],
  ["no DEFER_TASKRUN", DEFER_TASKRUN, {}],
  ["no SINGLE_ISSUER", DEFER_TASKRUN | SINGLE_ISSUER, {}],
  ["no COOP_TASKRUN", DEFER_TASKRUN | SINGLE_ISSUER | COOP_TASKRUN, {}],
  ["none (a 5.6 kernel)", DEFER_TASKRUN | SINGLE_ISSUER | COOP_TASKRUN | SUBMIT_ALL, {}],
  ["SQPOLL", DEFAULT_AVOIDED_SETUP_FLAGS, { sqpoll: true }],
  ["SQPOLL asked for and refused", DEFAULT_AVOIDED_SETUP_FLAGS, { sqpoll: true, refuseSqpoll: true }],
];

describe.each(levels)("io_uring set up with %s", (_label, avoid, options) => {
  test.skipIf(!uring.available)("cached and O_DIRECT reads, writes and errors complete exactly once", async () => {
    const backend = openUringBackend(32, avoid, options);
    const scheduler = new Scheduler(backend);
    expect(backend.features() & avoid).toBe(0);
    expect(backend.features() & SETUP_SQPOLL).toBe(options.sqpoll && !options.refuseSqpoll && granted ? SETUP_SQPOLL : 0);
    const data = recordBytes(4096);
    using file = tempFile(data);
    const direct = openSync(file.path, constants.O_RDWR | constants.O_DIRECT);
    try {
      // 256 cached reads through 32 slots: inline completions, 8 submissions.
      const cached = Array.from({ length: 256 }, (_, i) => {
        const view = Buffer.alloc(16);
        return scheduler.enqueue(OP_READ, file.fd, i * 16, freshOwnView(view), NO_OPTIONS).then((n) => [n, view.toString()]);
      });
      // O_DIRECT reads complete after the submitting call: they come back through the eventfd.
      const views = Array.from({ length: 64 }, () => allocAligned(4096));
      const late = views.map((view, i) => scheduler.enqueue(OP_READ, direct, (i % 16) * 4096, freshOwnView(view), NO_OPTIONS));
      const failed = scheduler.enqueue(OP_WRITE, 1 << 30, 0, freshOwnView(Buffer.from("x")), NO_OPTIONS);
      expect(await Promise.all(cached)).toEqual(Array.from({ length: 256 }, (_, i) => [16, data.toString("latin1", i * 16, i * 16 + 16)]));
      expect(await Promise.all(late)).toEqual(Array(64).fill(4096));
      views.forEach((view, i) => expect(view.equals(data.subarray((i % 16) * 4096, (i % 16 + 1) * 4096))).toBe(true));
      expect(await failed).toBe(-9); // EBADF
      expect(scheduler.stats).toMatchObject({ submitted: 321, completed: 321, inFlight: 0, queued: 0 });
    } finally {
      await scheduler.close();
      closeSync(direct);
    }
  });
});

describe("new Context({ sqpoll: true })", () => {
  test.skipIf(!granted)("gets a polling thread and submits without entering the kernel while it is awake", async () => {
    await using ctx = new Context({ backend: "uring", sqpoll: true, maxRequests: 16 });
    const data = recordBytes(64 * 1024);
    using file = tempFile(data);
    const views = Array.from({ length: 16 }, () => Buffer.alloc(4096));
    const reads = await Promise.all(views.map((view, i) => ctx.readInto(view, file.fd, i * 4096)));
    expect({ sqpoll: ctx.sqpoll, reads, same: views.every((view, i) => view.equals(data.subarray(i * 4096, (i + 1) * 4096))) }).toEqual({
      sqpoll: true,
      reads: Array(16).fill(4096),
      same: true,
    });
    // At most the wake-up of a thread that was asleep: never one io_uring_enter per batch.
    expect(ctx.stats.submitCalls).toBeLessThanOrEqual(1);
  });

  test.skipIf(!uring.available)("is false on an ordinary ring and on other backends, and must be a boolean", async () => {
    await using plain = new Context({ backend: "uring" });
    await using thread = new Context({ backend: "thread", sqpoll: true });
    expect({ plain: plain.sqpoll, thread: thread.sqpoll }).toEqual({ plain: false, thread: false });
    expect(() => new Context({ sqpoll: 1 as unknown as boolean })).toThrow(
      expect.objectContaining({ name: "TypeError", code: "ERR_INVALID_ARG_TYPE" }),
    );
  });

  test.skipIf(!granted)("close() right after issuing lets every O_DIRECT read and write complete", async () => {
    const ctx = new Context({ backend: "uring", sqpoll: true, maxRequests: 8 });
    const data = recordBytes(64 * 4096);
    using file = tempFile(data);
    const direct = openSync(file.path, constants.O_RDWR | constants.O_DIRECT);
    try {
      const views = Array.from({ length: 64 }, () => allocAligned(4096));
      const reads = views.map((view, i) => ctx.readInto(view, direct, i * 4096));
      const write = ctx.write(Buffer.from("sqpoll"), file.fd, 64 * 4096);
      const closed = ctx.close();
      expect(await Promise.all([...reads, write])).toEqual([...Array(64).fill(4096), 6]);
      await closed;
      expect(views.every((view, i) => view.equals(data.subarray(i * 4096, (i + 1) * 4096)))).toBe(true);
      expect(ctx.stats).toMatchObject({ submitted: 65, completed: 65, inFlight: 0, queued: 0 });
    } finally {
      closeSync(direct);
    }
  });

  test.skipIf(!granted)("an aborted FIFO read is cancelled in the kernel, so close() resolves", async () => {
    const ctx = new Context({ backend: "uring", sqpoll: true });
    using file = tempFile("x");
    using dir = tempDir();
    const fifo = join(dir, "fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const fifoFd = openSync(fifo, constants.O_RDWR); // O_RDWR: the open does not wait for a writer
    try {
      const controller = new AbortController();
      const pending = ctx.readInto(Buffer.alloc(8), fifoFd, 0, { signal: controller.signal });
      expect(await ctx.readInto(Buffer.alloc(1), file.fd, 0)).toBe(1); // one round trip: the FIFO read is in the kernel now
      expect(ctx.stats.inFlight).toBe(1);
      controller.abort();
      expect(await pending.catch((error: unknown) => error)).toBeInstanceOf(AbortError);
      await ctx.close();
      expect(ctx.stats).toMatchObject({ inFlight: 0, submitted: ctx.stats.completed });
    } finally {
      closeSync(fifoFd);
    }
  });
});
