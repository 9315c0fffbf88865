/**
 * io_uring specifics: the ring works at every setup-flag fallback level an older
 * kernel would leave us at (DEFER_TASKRUN, SINGLE_ISSUER, COOP_TASKRUN and
 * SUBMIT_ALL dropped one by one), with inline and late (O_DIRECT) completions.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, constants, openSync } from "node:fs";
import { OP_READ, OP_WRITE } from "../src/backends/backend.ts";
import { OPTIONAL_SETUP_FLAGS, openUringBackend } from "../src/backends/uring.ts";
import { allocAligned } from "../src/index.ts";
import { Scheduler } from "../src/scheduler.ts";
import { NO_OPTIONS } from "../src/validate.ts";
import { freshOwnView } from "../src/views.ts";
import { backends, recordBytes, reportSkip, tempFile } from "./helpers.ts";

const uring = backends.find((b) => b.name === "uring")!;
reportSkip(uring);
const { DEFER_TASKRUN, SINGLE_ISSUER, COOP_TASKRUN, SUBMIT_ALL } = OPTIONAL_SETUP_FLAGS;

const levels: [string, number][] = [
  ["every optional flag", 0],
  ["no DEFER_TASKRUN", DEFER_TASKRUN],
  ["no SINGLE_ISSUER", DEFER_TASKRUN | SINGLE_ISSUER],
  ["no COOP_TASKRUN", DEFER_TASKRUN | SINGLE_ISSUER | COOP_TASKRUN],
  ["none (a 5.6 kernel)", DEFER_TASKRUN | SINGLE_ISSUER | COOP_TASKRUN | SUBMIT_ALL],
];

describe.each(levels)("io_uring set up with %s", (_label, avoid) => {
  test.skipIf(!uring.available)("cached and O_DIRECT reads, writes and errors complete exactly once", async () => {
    const backend = openUringBackend(32, avoid);
    const scheduler = new Scheduler(backend);
    expect(backend.features() & avoid).toBe(0);
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
