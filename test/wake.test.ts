/**
 * The wake path: completions that arrive after their submitting call come back
 * through the backend's wake socket (c/wake.h, src/backends/wake.ts). 50,000 of them
 * on every backend, none lost or wrong; close() leaves no descriptor or thread behind;
 * a socket Bun cannot use falls back to polling instead of hanging.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, constants, openSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WakeSocket } from "../src/backends/wake.ts";
import { allocAligned, Context, type BackendName } from "../src/index.ts";
import { backends, namedThreads, namedThreadsAfterJoin, openDescriptors, repoRoot, reportSkip, runBun, SLOWDOWN, tempDir } from "./helpers.ts";
import { runWakeSoak, writeIndexedFile } from "./support/wake.ts";

/** Thread ids of this process named `name`. */
function threadIds(name: string): string[] {
  return readdirSync("/proc/self/task").filter((tid) => {
    try {
      return readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim() === name;
    } catch {
      return false; // the thread ended meanwhile
    }
  });
}

/** Backends that start a relay thread for the kernel's eventfd. */
const RELAYED: readonly BackendName[] = ["uring", "linux"];

describe.each(backends.map((b) => [b.name, b] as const))("%s backend wake path", (name, backend) => {
  reportSkip(backend);

  test.skipIf(!backend.available)("50,000 asynchronous O_DIRECT completions: every one arrives, every block is right", async () => {
    using dir = tempDir();
    const path = join(dir, "indexed");
    writeIndexedFile(path);
    await using ctx = new Context({ backend: name as BackendName, maxRequests: 64 });
    const result = await runWakeSoak(ctx, path, 50_000);
    expect(result).toEqual({ completed: 50_000, wrong: 0, buffered: false });
    expect(ctx.stats).toMatchObject({ submitted: 50_000, completed: 50_000, inFlight: 0, queued: 0 });
  });

  // js has no wake socket (node:fs calls back on this thread): the test does not apply, rather than skip.
  if (name === "js") return;
  test.skipIf(!backend.available)("close() releases the wake socket and its relay thread: 20 contexts leave nothing open", async () => {
    using dir = tempDir();
    const path = join(dir, "indexed");
    writeIndexedFile(path);
    const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECT);
    const descriptors = openDescriptors();
    const relays = namedThreads("caio-wake");
    try {
      for (let i = 0; i < 20; i++) {
        const ctx = new Context({ backend: name as BackendName, maxRequests: 8 });
        const reads = Array.from({ length: 8 }, (_, j) => ctx.readInto(allocAligned(4096), fd, j * 4096));
        expect(await Promise.all(reads)).toEqual(Array(8).fill(4096));
        if (RELAYED.includes(name as BackendName)) expect(namedThreads("caio-wake")).toBe(relays + 1);
        await ctx.close();
      }
      expect(openDescriptors()).toEqual(descriptors);
      expect(await namedThreadsAfterJoin("caio-wake", relays)).toBe(relays);
    } finally {
      closeSync(fd);
    }
  });

  const multiCpu = (readFileSync("/proc/self/status", "utf8").match(/^Cpus_allowed_list:\s*(\S+)/m)?.[1] ?? "0").match(/[-,]/) !== null;
  if (!multiCpu) console.log(`[skip] ${name}: the relay's CPU: this process may run on one CPU only`);
  // The thread pool's workers write the socket themselves: no relay, so the test does not apply.
  if (RELAYED.includes(name as BackendName))
    test.skipIf(!backend.available || !multiCpu)(
    "the relay thread moves to the CPU the JavaScript thread submits from once it has relayed a completion",
    async () => {
      using dir = tempDir();
      const path = join(dir, "indexed");
      writeIndexedFile(path);
      const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECT);
      const before = new Set(threadIds("caio-wake"));
      try {
        await using ctx = new Context({ backend: name as BackendName, maxRequests: 8 });
        // One at a time from a device: each completes after its submitting call, through the relay.
        for (let i = 0; i < 32; i++) expect(await ctx.readInto(allocAligned(4096), fd, i * 4096)).toBe(4096);
        const relay = threadIds("caio-wake").filter((tid) => !before.has(tid));
        const allowed = relay.map((tid) => readFileSync(`/proc/self/task/${tid}/status`, "utf8").match(/^Cpus_allowed_list:\s*(\S+)/m)?.[1]);
        expect({ relays: relay.length, oneCpu: allowed.every((list) => list !== undefined && /^\d+$/.test(list)) }).toEqual({ relays: 1, oneCpu: true });
      } finally {
        closeSync(fd);
      }
    },
  );

  test.skipIf(!backend.available)("out of descriptors: new Context throws EMFILE as a system error and leaks nothing", async () => {
    using dir = tempDir();
    const script = join(dir, "emfile.ts");
    // Fill the descriptor table, then free one more descriptor per attempt: every step of a
    // backend's setup (ring, socket pair, eventfd) runs out in turn and must undo the earlier ones.
    writeFileSync(
      script,
      `import { closeSync, openSync, readdirSync } from "node:fs";
import { Context } from ${JSON.stringify(join(repoRoot, "src", "index.ts"))};
const held = [];
try { for (;;) held.push(openSync("/dev/null", "r")); } catch {}
const attempts = [];
for (let free = 1; free <= 4; free++) {
  closeSync(held.pop());
  const before = readdirSync("/proc/self/fd").length;
  try {
    await new Context({ backend: "${name}" }).close();
    attempts.push({ opened: true, leaked: readdirSync("/proc/self/fd").length - before });
  } catch (e) {
    attempts.push({ code: e.code, errno: e.errno, syscall: typeof e.syscall, leaked: readdirSync("/proc/self/fd").length - before });
  }
}
for (const fd of held) closeSync(fd);
console.log(JSON.stringify(attempts));`,
    );
    const result = await runBun(script, {}, ["/bin/sh", "-c", 'ulimit -n 256 && exec "$0" "$@"']);
    expect(result).toMatchObject({ exitCode: 0, stderr: "" });
    const attempts: { opened?: true; code?: string; errno?: number; syscall?: string; leaked: number }[] = JSON.parse(result.stdout.trim());
    expect(attempts[0]).toEqual({ code: "EMFILE", errno: -24, syscall: "string", leaked: 0 });
    for (const attempt of attempts) {
      expect(attempt.leaked).toBe(0);
      if (!attempt.opened) expect(attempt).toEqual({ code: "EMFILE", errno: -24, syscall: "string", leaked: 0 });
    }
    expect(attempts.at(-1)).toEqual({ opened: true, leaked: 0 });
  });
});

describe("wake socket fallback", () => {
  test("a descriptor Bun refuses: one CaioWarning, polling while held and only then, the descriptor closed", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    const fd = openSync("/dev/null", "r");
    let wakes = 0;
    const wake = new WakeSocket(fd, () => wakes++);
    try {
      await Bun.sleep(10);
      expect(wakes).toBe(0);
      wake.hold();
      await Bun.sleep(50 * SLOWDOWN);
      const held = wakes;
      expect(held).toBeGreaterThan(5);
      wake.release();
      await Bun.sleep(30);
      expect(wakes).toBe(held);
    } finally {
      wake.close();
      process.off("warning", onWarning);
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ name: "CaioWarning", code: "CAIO_WAKE" });
    expect(warnings[0]!.message).toContain("polling every 1 ms");
    // Closed: the number is gone or already reused by something else.
    expect(descriptorTarget(fd)).not.toBe("/dev/null");
  });
});

function descriptorTarget(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}
