/**
 * File in direct mode (issue 17): O_DIRECT reads of any range against a buffered
 * reference, writable() padding and truncating its last block, unaligned writeAt
 * refused with the alignment named, and tmpfs's refusal of O_DIRECT explained.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Context, File, open, type BackendName } from "../src/index.ts";
import { backends, reportSkip, withFile } from "./helpers.ts";

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
      for (const error of errors) expect(error.message).toContain(`multiple of ${BLOCK}`);
      for (const error of errors) expect(error.message).toContain("writable()");
      expect({ wrote, position: file.position, size: readFileSync(path).length }).toEqual({ wrote: 2 * BLOCK, position: 0, size: 3 * BLOCK });
    });
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
