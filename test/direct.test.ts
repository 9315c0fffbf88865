/** O_DIRECT: completions that arrive after the submitting call come back through the wake path. */
import { describe, expect, test } from "bun:test";
import { constants, openSync, closeSync, readFileSync } from "node:fs";
import { allocAligned, Context, type BackendName } from "../src/index.ts";
import { backends, reportSkip, tempDir, tempFile } from "./helpers.ts";

const BLOCK = 4096;

function pattern(blocks: number): Buffer {
  const out = Buffer.alloc(blocks * BLOCK);
  for (let i = 0; i < out.length; i += 4) out.writeUInt32LE(i / 4, i);
  return out;
}

/** An O_DIRECT descriptor that closes itself at the end of its `using` scope. */
function openDirect(path: string): { fd: number } & Disposable {
  const fd = openSync(path, constants.O_RDWR | constants.O_DIRECT);
  return { fd, [Symbol.dispose]: () => closeSync(fd) };
}

/**
 * Why /proc/self/fdinfo cannot tell an O_DIRECT descriptor here, or undefined. caio's
 * EINVAL hint reads the open flags there; under qemu-user they are the host kernel's
 * encoding (x86-64's O_DIRECT is 040000, arm64's 0200000), not this process's.
 */
function fdinfoProblem(): string | undefined {
  using file = tempFile(pattern(1));
  using direct = openDirect(file.path);
  const flags = parseInt(/^flags:\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${direct.fd}`, "utf8"))?.[1] ?? "0", 8);
  if (flags & constants.O_DIRECT) return undefined;
  return `/proc/self/fdinfo shows flags 0${flags.toString(8)} for an O_DIRECT descriptor, without this process's O_DIRECT (0${constants.O_DIRECT.toString(8)}): the kernel reports another architecture's flag encoding, as under qemu-user`;
}

/** Lets the per-tick flush run: it is a microtask queued by the first operation of the tick. */
async function afterFlush(): Promise<void> {
  await Promise.resolve();
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend with O_DIRECT", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);
  const open = (maxRequests?: number) => new Context({ backend: name as BackendName, maxRequests });

  it("aligned reads resolve through the wake path with the right bytes", async () => {
    const data = pattern(256);
    using file = tempFile(data);
    using direct = openDirect(file.path);
    const { fd } = direct;
    await using ctx = open(16);
    const buffers = Array.from({ length: 64 }, () => allocAligned(BLOCK));
    const reads = buffers.map((buffer, i) => ctx.readInto(buffer, fd, ((i * 37) % 256) * BLOCK));
    await afterFlush();
    expect(ctx.stats.inFlight + ctx.stats.completed).toBeGreaterThan(0);
    expect(await Promise.all(reads)).toEqual(buffers.map(() => BLOCK));
    buffers.forEach((buffer, i) => {
      const at = ((i * 37) % 256) * BLOCK;
      expect(buffer.equals(data.subarray(at, at + BLOCK))).toBe(true);
    });
    const fresh = await ctx.read(BLOCK, fd, 5 * BLOCK);
    expect(fresh.equals(data.subarray(5 * BLOCK, 6 * BLOCK))).toBe(true);
  });

  it("close() in the middle of 10,000 reads settles every promise before it resolves; nothing completes after", async () => {
    const blocks = 256;
    const data = pattern(blocks);
    using file = tempFile(data);
    using direct = openDirect(file.path);
    await using ctx = open(64);
    let settled = 0;
    const buffers = Array.from({ length: 10_000 }, () => allocAligned(BLOCK));
    const reads = buffers.map((buffer, i) =>
      ctx.readInto(buffer, direct.fd, (i % blocks) * BLOCK).finally(() => settled++),
    );
    // Let some complete, so the close lands with operations both queued and in flight.
    await reads[100];
    expect(ctx.stats.queued).toBeGreaterThan(0);
    await ctx.close();
    const settledAtClose = settled;
    expect(ctx.stats).toMatchObject({ submitted: 10_000, completed: 10_000, inFlight: 0, queued: 0 });
    expect(await Promise.all(reads)).toEqual(buffers.map(() => BLOCK));
    expect(settledAtClose).toBe(10_000);
    buffers.forEach((buffer, i) => expect(buffer.readUInt32LE(0)).toBe(((i % blocks) * BLOCK) / 4));
  });

  it("aligned writes land on disk", async () => {
    using file = tempFile();
    using direct = openDirect(file.path);
    const { fd } = direct;
    await using ctx = open();
    const data = pattern(32);
    const block = (i: number) => {
      const buffer = allocAligned(BLOCK);
      data.copy(buffer, 0, i * BLOCK, (i + 1) * BLOCK);
      return buffer;
    };
    const written = await Promise.all(Array.from({ length: 32 }, (_, i) => ctx.write(block(i), fd, i * BLOCK)));
    expect(written.every((n) => n === BLOCK)).toBe(true);
    await ctx.fdsync(fd);
    expect(readFileSync(file.path).equals(data)).toBe(true);
  });

  const fdinfo = backend.available ? fdinfoProblem() : undefined;
  if (fdinfo) console.log(`[skip] ${name}: O_DIRECT alignment hint: ${fdinfo}`);
  test.skipIf(!backend.available || fdinfo !== undefined)("misaligned O_DIRECT requests fail with EINVAL that names the alignment rule", async () => {
    using file = tempFile(pattern(4));
    using direct = openDirect(file.path);
    const { fd } = direct;
    await using ctx = open();
    const unaligned = allocAligned(BLOCK + 1).subarray(1);
    const error = await ctx.readInto(unaligned, fd, 0).catch((e) => e);
    expect({ code: error.code, errno: error.errno, syscall: error.syscall }).toEqual({
      code: "EINVAL",
      errno: -22,
      syscall: "read",
    });
    expect(error.message).toContain("buffer address");
    expect(error.message).toContain("allocAligned");
    await expect(ctx.readInto(allocAligned(BLOCK), fd, 100)).rejects.toThrow(/offset 100/);
  });

  it("reading a directory is EISDIR", async () => {
    using dir = tempDir();
    const fd = openSync(`${dir}`, "r");
    try {
      await using ctx = open();
      await expect(ctx.read(16, fd, 0)).rejects.toMatchObject({ code: "EISDIR", errno: -21, syscall: "read" });
    } finally {
      closeSync(fd);
    }
  });

  it("aborting in flight rejects at once but keeps the slot and buffer until the kernel completes", async () => {
    using file = tempFile(pattern(256));
    using direct = openDirect(file.path);
    const { fd } = direct;
    const ctx = open();
    let caught: Error | undefined;
    // An O_DIRECT megabyte is still in the device after the submitting call; retry in the rare case it is not.
    for (let attempt = 0; attempt < 20 && !caught; attempt++) {
      const controller = new AbortController();
      const pending = ctx.readInto(allocAligned(1 << 20), fd, 0, { signal: controller.signal });
      await afterFlush();
      if (ctx.stats.inFlight !== 1) {
        await pending;
        continue;
      }
      controller.abort();
      // The promise is already rejected, but the slot is still held: the cancel goes out with the next flush,
      // and that flush may reap the read (it can be done by then; it is never reaped before the kernel is).
      expect(ctx.stats.inFlight).toBe(1);
      caught = await pending.catch((e) => e);
    }
    expect(caught?.name).toBe("AbortError");
    Bun.gc(true);
    await ctx.close();
    expect(ctx.stats.inFlight).toBe(0);
    expect(ctx.stats.completed).toBe(ctx.stats.submitted);
  });
});
