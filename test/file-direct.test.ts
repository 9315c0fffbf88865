/**
 * File in direct mode (issue 17): O_DIRECT reads of any range against a buffered
 * reference, writable() padding and truncating its last block, unaligned writeAt
 * refused with the alignment named, and tmpfs's refusal of O_DIRECT explained.
 */
import { describe, expect, test } from "bun:test";
import { dlopen, FFIType, ptr } from "bun:ffi";
import { closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Context, File, open, type BackendName } from "../src/index.ts";
import { backends, reportSkip, tempDir, withFile } from "./helpers.ts";

const BLOCK = 4096;
const TMPFS_MAGIC = 0x01021994;
/** A tmpfs directory to show O_DIRECT refused, when there is one. */
const shm = existsSync("/dev/shm") && statfsSync("/dev/shm").type === TMPFS_MAGIC ? "/dev/shm" : undefined;

/** Why tmpfs cannot show the refusal here (Linux 6.6 gave tmpfs O_DIRECT), or undefined. */
function tmpfsRefusalUnavailable(): string | undefined {
  if (!shm) return "no tmpfs at /dev/shm";
  const dir = mkdtempSync(join(shm, "caio-probe-"));
  try {
    writeFileSync(join(dir, "probe"), "");
    closeSync(openSync(join(dir, "probe"), constants.O_RDONLY | constants.O_DIRECT));
    return "this kernel's tmpfs accepts O_DIRECT (Linux >= 6.6)";
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
const refusalUnavailable = tmpfsRefusalUnavailable();
if (refusalUnavailable) console.log(`[skip] O_DIRECT refusal test: ${refusalUnavailable}`);

/**
 * stx_dio_offset_align of `path` as glibc's statx(3) reports it (STATX_DIOALIGN,
 * Linux 6.1+), 4096 where it reports nothing: the alignment a direct File should use,
 * found without caio.
 */
function referenceAlignment(path: string): number {
  const libc = dlopen("libc.so.6", {
    statx: { args: [FFIType.i32, FFIType.cstring, FFIType.i32, FFIType.u32, FFIType.ptr], returns: FFIType.i32 },
  });
  try {
    const out = new Uint8Array(256);
    const AT_FDCWD = -100;
    const STATX_DIOALIGN = 0x2000;
    if (libc.symbols.statx(AT_FDCWD, ptr(Buffer.from(`${path}\0`)), 0, STATX_DIOALIGN, ptr(out)) !== 0) throw new Error(`statx(${path}) failed`);
    const view = new DataView(out.buffer);
    const reported = view.getUint32(0, true) & STATX_DIOALIGN ? view.getUint32(0x9c, true) : 0;
    return reported > 0 ? reported : BLOCK;
  } finally {
    libc.close();
  }
}

/** The reference alignment of a file in the directory the tests use, or why there is none (no glibc statx). */
const reference: number | string = (() => {
  using dir = tempDir();
  writeFileSync(join(dir, "probe"), "");
  try {
    return referenceAlignment(join(dir, "probe"));
  } catch (error) {
    return `no glibc statx to compare with: ${(error as Error).message}`;
  }
})();
if (typeof reference === "string") console.log(`[skip] direct alignment tests: ${reference}`);
else console.log(`direct I/O alignment of ${tmpdir()}: ${reference}`);

function pattern(length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + (i >> 8)) & 0xff;
  return out;
}

/** Unaligned and aligned ranges, some past the end. */
const RANGES: [number, number][] = [
  [0, 1], [1, 4095], [4095, 2], [100, 10_000], [BLOCK, BLOCK], [3 * BLOCK - 7, 20], [40_000, 9000], [49_000, 500], [60_000, 10],
];

describe.each(backends.map((b) => [b.name, b] as const))("%s backend File in direct mode", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);
  const withDirect = (contents: string | Buffer | undefined, flags: string, body: (file: File, path: string) => Promise<void>) =>
    withFile(name as BackendName, contents, flags, body, { direct: true });

  it("reads of unaligned ranges return exactly what a buffered read returns", async () => {
    const data = pattern(50_000);
    await withDirect(data, "r", async (file) => {
      const direct = await Promise.all(RANGES.map(([offset, length]) => file.readAt(length, offset)));
      const buffered = RANGES.map(([offset, length]) => data.subarray(offset, offset + length));
      const intoBuffer = Buffer.alloc(333);
      const into = await file.readInto(intoBuffer, 1234);
      file.position = 17;
      const positioned = await file.read(5000);
      expect({
        ranges: direct.map((bytes, i) => bytes.equals(buffered[i]!)),
        into: into === 333 && intoBuffer.equals(data.subarray(1234, 1567)),
        positioned: positioned.equals(data.subarray(17, 5017)),
        position: file.position,
      }).toEqual({ ranges: RANGES.map(() => true), into: true, positioned: true, position: 5017 });
    });
  });

  it("chunks(), lines(), readable() and text() read unaligned ranges whole", async () => {
    const text = Array.from({ length: 3000 }, (_, i) => `line ${i} ünïcode`).join("\n");
    const data = Buffer.from(text);
    await withDirect(data, "r", async (file) => {
      const chunks: Buffer[] = [];
      for await (const chunk of file.chunks({ start: 5, end: 30_001, chunkSize: 5000 })) chunks.push(chunk);
      const lines: string[] = [];
      for await (const line of file.lines({ chunkSize: 3000 })) lines.push(line);
      const streamed = Buffer.from(await new Response(file.readable({ start: 11 })).arrayBuffer());
      expect({
        chunks: Buffer.concat(chunks).equals(data.subarray(5, 30_001)),
        lines: lines.join("\n") === text,
        streamed: streamed.equals(data.subarray(11)),
        text: (await file.text()) === text,
      }).toEqual({ chunks: true, lines: true, streamed: true, text: true });
    });
  });

  it("writable() pads the last block and truncates the file back to its true length", async () => {
    await withDirect(undefined, "w", async (file, path) => {
      const writer = file.writable({ chunkSize: 3 * BLOCK }).getWriter();
      const parts = [pattern(1000), pattern(20_000), Buffer.from("tail without alignment")];
      for (const part of parts) await writer.write(part);
      await writer.close();
      const expected = Buffer.concat(parts);
      const written = readFileSync(path);
      expect({ length: written.length, same: written.equals(expected), position: file.position }).toEqual({
        length: expected.length,
        same: true,
        position: expected.length,
      });
    });
  });

  it("writable() from an unaligned position inside a longer file keeps the file's bytes around it", async () => {
    const original = pattern(5 * BLOCK + 100);
    await withDirect(original, "r+", async (file, path) => {
      file.position = BLOCK + 10;
      const writer = file.writable().getWriter();
      await writer.write(Buffer.alloc(5000, 0xee));
      await writer.close();
      const expected = Buffer.from(original);
      expected.fill(0xee, BLOCK + 10, BLOCK + 5010);
      expect(readFileSync(path).equals(expected)).toBe(true);
    });
  });

  it("an unaligned writeAt or write is ERR_INVALID_ARG_VALUE naming the alignment and writable(); aligned ones work", async () => {
    await withDirect(undefined, "w+", async (file, path) => {
      const errors = [
        await file.writeAt(Buffer.alloc(BLOCK), 100).catch((e) => e),
        await file.writeAt(Buffer.alloc(100), 0).catch((e) => e),
        await file.write("short").catch((e) => e),
      ];
      const wrote = await file.writeAt(pattern(2 * BLOCK), BLOCK);
      expect(errors.map((e) => e.code)).toEqual(Array(3).fill("ERR_INVALID_ARG_VALUE"));
      for (const error of errors) expect(error.message).toContain(`multiple of ${file.alignment}`);
      for (const error of errors) expect(error.message).toContain("writable()");
      expect({ wrote, position: file.position, size: readFileSync(path).length }).toEqual({ wrote: 2 * BLOCK, position: 0, size: 3 * BLOCK });
    });
  });
});

describe.each(backends.map((b) => [b.name, b] as const))("%s backend direct-mode alignment", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available || typeof reference === "string");
  /** The js backend's statx is node:fs's stat, which has no stx_dio_offset_align: it keeps to a page. */
  const expected = () => (name === "js" ? BLOCK : (reference as number));

  it("file.alignment is the file system's stx_dio_offset_align (4096 where statx has none), 0 without direct", async () => {
    await withFile(name as BackendName, pattern(3 * BLOCK), "r", async (file, path) => {
      await using ctx = new Context({ backend: name as BackendName });
      await using buffered = await open(path, "r", { context: ctx });
      expect({ direct: file.alignment, buffered: buffered.alignment }).toEqual({ direct: expected(), buffered: 0 });
    }, { direct: true });
  });

  it("the statx goes in the open's submission: a direct open is one submitting call", async () => {
    using dir = tempDir();
    const path = join(dir, "data");
    writeFileSync(path, pattern(BLOCK));
    await using ctx = new Context({ backend: name as BackendName });
    await using file = await open(path, "r", { direct: true, context: ctx });
    const { submitted, submitCalls } = ctx.stats;
    expect({ submitted, submitCalls, alignment: file.alignment }).toEqual({ submitted: 2, submitCalls: 1, alignment: expected() });
  });

  it("a file created by a direct open gets the same alignment (its statx by path may run before the create)", async () => {
    await withFile(name as BackendName, undefined, "wx", async (file) => {
      expect(file.alignment).toBe(expected());
    }, { direct: true });
  });

  it("writeAt at the reported alignment works; one byte off is refused naming it", async () => {
    await withFile(name as BackendName, undefined, "w+", async (file, path) => {
      const align = file.alignment;
      const wrote = await file.writeAt(pattern(align), align);
      const refused = await file.writeAt(pattern(align), align + 1).catch((e) => e);
      expect({ wrote, same: readFileSync(path).subarray(align).equals(pattern(align)), message: refused.message.includes(`multiple of ${align}`) }).toEqual({
        wrote: align,
        same: true,
        message: true,
      });
    }, { direct: true });
  });

  it("256 one-byte reads at unaligned offsets, each widened to the alignment, return the right bytes", async () => {
    const data = pattern(8 * BLOCK);
    await withFile(name as BackendName, data, "r", async (file) => {
      const offsets = Array.from({ length: 256 }, (_, i) => (i * 131) % data.length);
      const bytes = await Promise.all(offsets.map((offset) => file.readAt(1, offset)));
      expect(bytes.map((b) => b[0])).toEqual(offsets.map((offset) => data[offset]));
    }, { direct: true });
  });
});

test.skipIf(refusalUnavailable !== undefined)("a file system refusing O_DIRECT (tmpfs) gives an error saying so and what to do", async () => {
  const dir = mkdtempSync(join(shm!, "caio-direct-"));
  try {
    const path = join(dir, "data");
    writeFileSync(path, "on tmpfs");
    const error = await open(path, "r", { direct: true }).catch((e) => e);
    expect(error.code).toBe("EINVAL");
    expect(error.message).toContain("does not support O_DIRECT");
    expect(error.message).toContain("without { direct: true }");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the O_DIRECT refusal message, shown through a Context whose open answers EINVAL as tmpfs did before Linux 6.6", async () => {
  class RefusingContext extends Context {
    override async open(path: string | Buffer | URL): Promise<number> {
      throw Object.assign(new Error(`EINVAL: invalid argument, open '${path}'`), { code: "EINVAL", errno: -22, syscall: "open" });
    }
  }
  await using ctx = new RefusingContext();
  const direct = await open("/somewhere/data", "r", { direct: true, context: ctx }).catch((e) => e);
  const buffered = await open("/somewhere/data", "r", { context: ctx }).catch((e) => e);
  expect({ code: direct.code, says: direct.message.includes("does not support O_DIRECT"), how: direct.message.includes("without { direct: true }") }).toEqual({
    code: "EINVAL",
    says: true,
    how: true,
  });
  expect(buffered.message).toBe("EINVAL: invalid argument, open '/somewhere/data'");
});
