/** File (issue 17): positions as aiofile keeps them, whole-file reads, chunks, lines and closed-file errors, on every backend. */
import { describe, expect, test } from "bun:test";
import { appendFileSync, closeSync, fstatSync, openSync, readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Context, defaultContext, File, open, type BackendName } from "../src/index.ts";
import { backends, reportSkip, tempDir, withFile } from "./helpers.ts";

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/** What String.split gives for the lines of `text` as lines() should: "\n" or "\r\n", no empty line after a final newline. */
function expectedLines(text: string): string[] {
  if (text === "") return [];
  const parts = text.split("\n").map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
  if (text.endsWith("\n")) parts.pop();
  return parts;
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend File", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);
  const onFile = (contents: string | Buffer | undefined, flags: string, body: (file: File, path: string) => Promise<void>) =>
    withFile(name as BackendName, contents, flags, body);

  it("concurrent write() calls land back-to-back in call order and move the position at the call", async () => {
    await onFile(undefined, "w+", async (file, path) => {
      const parts = Array.from({ length: 64 }, (_, i) => `part ${i} `.repeat((i % 5) + 1));
      const positions: number[] = [];
      const writes = parts.map((part) => {
        const written = file.write(part);
        positions.push(file.position);
        return written;
      });
      const counts = await Promise.all(writes);
      const whole = parts.join("");
      expect({ counts, last: positions.at(-1), contents: readFileSync(path, "utf8") }).toEqual({
        counts: parts.map((part) => Buffer.byteLength(part)),
        last: Buffer.byteLength(whole),
        contents: whole,
      });
    });
  });

  it("a read moves the position by the bytes read; a short read at the end moves it to the end, past it read() is empty", async () => {
    await onFile("0123456789", "r", async (file) => {
      const first = (await file.read(4)).toString();
      const atFour = file.position;
      const tail = (await file.read(100)).toString();
      const atEnd = file.position;
      const past = await file.read(5);
      expect({ first, atFour, tail, atEnd, past: past.length, after: file.position }).toEqual({
        first: "0123",
        atFour: 4,
        tail: "456789",
        atEnd: 10,
        past: 0,
        after: 10,
      });
    });
  });

  it("concurrent reads take consecutive ranges; read() without a size reads to the end from the position", async () => {
    await onFile("abcdefghij", "r", async (file) => {
      const [a, b, c] = await Promise.all([file.read(3), file.read(3), file.read(10)]);
      const afterConcurrent = file.position;
      file.position = 2;
      const rest = (await file.read()).toString();
      expect({ a: a.toString(), b: b.toString(), c: c.toString(), afterConcurrent, rest, position: file.position }).toEqual({
        a: "abc",
        b: "def",
        c: "ghij",
        afterConcurrent: 10,
        rest: "cdefghij",
        position: 10,
      });
    });
  });

  it("readAt and writeAt leave the position alone; readInto without an offset moves it", async () => {
    await onFile("..........", "r+", async (file) => {
      await file.writeAt("XY", 4);
      const at = (await file.readAt(4, 3)).toString();
      const buffer = Buffer.alloc(6);
      const got = await file.readInto(buffer);
      const positioned = file.position;
      const fixed = await file.readInto(Buffer.alloc(3), 8);
      expect({ at, got, buffer: buffer.toString(), positioned, fixed, position: file.position }).toEqual({
        at: ".XY.",
        got: 6,
        buffer: "....XY",
        positioned: 6,
        fixed: 2,
        position: 6,
      });
    });
  });

  it("text(), bytes() and json() read the whole file whatever the position; stat, truncate, allocate, sync and datasync work", async () => {
    await onFile('{"a":[1,2,"ü"]}', "r+", async (file) => {
      file.position = 5;
      const text = await file.text();
      const json = await file.json();
      const bytes = await file.bytes();
      await file.truncate(4);
      const size = (await file.stat()).size;
      await file.allocate(0, 100);
      await file.sync();
      await file.datasync();
      expect({ text, json, bytes: bytes.length, size, grown: (await file.stat()).size, position: file.position }).toEqual({
        text: '{"a":[1,2,"ü"]}',
        json: { a: [1, 2, "ü"] },
        bytes: 16,
        size: 4,
        grown: 100,
        position: 5,
      });
    });
  });

  it("chunks() covers [start, end) in chunkSize pieces, the last one short", async () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    await onFile(data, "r", async (file) => {
      const whole = await collect(file.chunks({ chunkSize: 64 }));
      const ranged = await collect(file.chunks({ chunkSize: 100, start: 10, end: 355, readAhead: 2 }));
      expect({
        sizes: whole.map((c) => c.length),
        whole: Buffer.concat(whole).equals(data),
        ranged: ranged.map((c) => c.length),
        rangedOk: Buffer.concat(ranged).equals(data.subarray(10, 355)),
      }).toEqual({ sizes: [...Array(15).fill(64), 40], whole: true, ranged: [100, 100, 100, 45], rangedOk: true });
    });
  });

  it("chunks() follows a file growing while it is read and ends where a read finds the end of a shrunk one", async () => {
    await onFile(Buffer.alloc(300, 1), "r", async (file, path) => {
      const grown: Buffer[] = [];
      for await (const chunk of file.chunks({ chunkSize: 100, readAhead: 1 })) {
        grown.push(chunk);
        if (grown.length === 1) appendFileSync(path, Buffer.alloc(150, 2));
      }
      const shrunk: Buffer[] = [];
      for await (const chunk of file.chunks({ chunkSize: 100, readAhead: 1 })) {
        shrunk.push(chunk);
        if (shrunk.length === 1) truncateSync(path, 130);
      }
      expect({
        grown: Buffer.concat(grown).equals(Buffer.concat([Buffer.alloc(300, 1), Buffer.alloc(150, 2)])),
        shrunk: shrunk.map((c) => c.length),
      }).toEqual({ grown: true, shrunk: [100, 30] });
    });
  });

  it("lines(): multi-byte characters split at every chunk boundary (chunkSize 1…7), \\r\\n, no trailing newline", async () => {
    const text = "héllo wörld\r\n日本語のテキスト\n\n🎉 emoji 🎉\r\n\r\nÜberlänge ß€ without newline 𝄞";
    await onFile(text, "r", async (file) => {
      const results = [];
      for (let chunkSize = 1; chunkSize <= 7; chunkSize++) results.push(await collect(file.lines({ chunkSize })));
      expect(results).toEqual(Array(7).fill(expectedLines(text)));
    });
  });

  it("lines() of UTF-16LE goes through the decoder and still never splits a character", async () => {
    const text = "ab𝄞c\r\nδε\nlast";
    await onFile(Buffer.from(text, "utf16le"), "r", async (file) => {
      const results = [];
      for (const chunkSize of [1, 3, 5]) results.push(await collect(file.lines({ chunkSize, encoding: "utf-16le" })));
      expect(results).toEqual(Array(3).fill(expectedLines(text)));
    });
  });

  it("lines() of an empty file is empty; a file of newlines gives empty lines; start skips bytes", async () => {
    await onFile("", "r", async (file) => {
      expect(await collect(file.lines())).toEqual([]);
    });
    await onFile("\n\r\n\n", "r", async (file) => {
      expect(await collect(file.lines({ chunkSize: 2 }))).toEqual(["", "", ""]);
    });
    await onFile("skip\nthis\n", "r", async (file) => {
      expect(await collect(file.lines({ start: 5 }))).toEqual(["this"]);
    });
  });

  it("lines() returns a 10 MiB line whole, between short ones", async () => {
    const long = "ä".repeat(5 * 1024 * 1024);
    await onFile(`first\n${long}\nlast`, "r", async (file) => {
      const lines = await collect(file.lines());
      expect({ count: lines.length, first: lines[0], longOk: lines[1] === long, last: lines[2] }).toEqual({
        count: 3,
        first: "first",
        longOk: true,
        last: "last",
      });
    });
  });

  it("a closed File rejects every call with 'file closed' (EBADF and the syscall); close() is idempotent and waits for reads in flight", async () => {
    await onFile("x".repeat(100_000), "r+", async (file) => {
      const reads = [file.read(50_000), file.readAt(10, 5)];
      const closing = file.close();
      const secondClose = file.close();
      const settled = await Promise.all(reads.map((read) => read.then((bytes) => bytes.length)));
      await Promise.all([closing, secondClose]);
      const errors = await Promise.all(
        [
          () => file.read(1),
          () => file.readAt(1, 0),
          () => file.write("x"),
          () => file.writeAt("x", 0),
          () => file.stat(),
          () => file.truncate(),
          () => file.sync(),
          () => file.text(),
          async () => file.chunks(),
          async () => file.readable(),
          async () => file.writable(),
        ].map((call) => call().then(() => "resolved", (error) => ({ message: error.message, code: error.code, syscall: error.syscall }))),
      );
      expect(settled).toEqual([50_000, 10]);
      expect(errors.map((e) => (typeof e === "string" ? e : `${e.message} ${e.code}`))).toEqual(Array(11).fill("file closed EBADF"));
      expect(errors.map((e) => (e as { syscall: string }).syscall)).toEqual([
        "read", "read", "write", "write", "fstat", "ftruncate", "fsync", "read", "read", "read", "write",
      ]);
    });
  });

  it("reads on a write-only File are the kernel's EBADF; bad arguments are argument errors", async () => {
    await onFile(undefined, "w", async (file) => {
      const read: unknown = await file.read(10).catch((e) => ({ code: e.code, syscall: e.syscall, message: e.message }));
      const bad = [
        await file.read(-1).catch((e) => e.code),
        await file.readAt(1, -5).catch((e) => e.code),
        await file.write(42 as never).catch((e) => e.code),
        (() => { try { file.position = -1; } catch (e) { return (e as { code: string }).code; } })(),
        (() => { try { file.chunks({ chunkSize: 0 }); } catch (e) { return (e as { code: string }).code; } })(),
        (() => { try { file.lines({ encoding: "klingon" }); } catch (e) { return (e as { code: string }).code; } })(),
      ];
      expect(read).toMatchObject({ code: "EBADF", syscall: "read" });
      expect((read as Error).message).not.toBe("file closed");
      expect(bad).toEqual(["ERR_OUT_OF_RANGE", "ERR_OUT_OF_RANGE", "ERR_INVALID_ARG_TYPE", "ERR_OUT_OF_RANGE", "ERR_OUT_OF_RANGE", "ERR_INVALID_ARG_VALUE"]);
    });
  });

  it("a Context's close() gives back the descriptors of Files still open on it, after their reads; their close() then resolves and closes nothing else", async () => {
    using dir = tempDir();
    const path = join(dir, "data");
    writeFileSync(path, "0123456789");
    const ctx = new Context({ backend: name as BackendName });
    const files = [await open(path, "r", { context: ctx }), await open(path, "r", { context: ctx })];
    const inode = fstatSync(files[0]!.fd).ino;
    const reading = files[0]!.readAt(4, 2);
    await ctx.close();
    const stillOurs = (fd: number) => {
      try {
        return fstatSync(fd).ino === inode;
      } catch {
        return false; // EBADF: given back
      }
    };
    const afterClose = files.map((file) => stillOurs(file.fd));
    // A descriptor opened now may take one of their numbers: the Files' own close() must leave it alone.
    const newcomer = openSync(join(dir, "other"), "w");
    const closes = await Promise.allSettled(files.map((file) => file.close()));
    let newcomerOpen = true;
    try {
      fstatSync(newcomer);
    } catch {
      newcomerOpen = false;
    }
    closeSync(newcomer);
    expect({ read: String(await reading), afterClose, closes: closes.map((c) => c.status), newcomerOpen }).toEqual({
      read: "2345",
      afterClose: [false, false],
      closes: ["fulfilled", "fulfilled"],
      newcomerOpen: true,
    });
  });
});

test("open() without a context uses the default one; a missing file is node:fs's ENOENT", async () => {
  // Its threads must not outlive this test: later files count the process's caio threads.
  await using _ = { [Symbol.asyncDispose]: () => defaultContext().close() };
  using dir = tempDir();
  const path = join(dir, "default");
  await using file = await open(path, "w+");
  await file.write("on the default context");
  const missing = await open(join(dir, "missing")).catch((e) => ({ code: e.code, syscall: e.syscall }));
  expect({ text: await file.text(), missing }).toEqual({ text: "on the default context", missing: { code: "ENOENT", syscall: "open" } });
});
