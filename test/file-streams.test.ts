/** File's web streams (issue 17): readable() with BYOB and cancel, writable() with backpressure, failure and abort, on every backend. */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Context, open, type BackendName, type File } from "../src/index.ts";
import { backends, recordBytes, reportSkip, tempDir, withFile } from "./helpers.ts";

describe.each(backends.map((b) => [b.name, b] as const))("%s backend File streams", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);
  const onFile = (contents: string | Buffer | undefined, flags: string, body: (file: File, path: string) => Promise<void>) =>
    withFile(name as BackendName, contents, flags, body);

  it("readable() streams the file, in a Response too, and [start, end) of it", async () => {
    const data = recordBytes(20_000);
    await onFile(data, "r", async (file) => {
      const whole = Buffer.from(await new Response(file.readable({ chunkSize: 4096 })).arrayBuffer());
      const part = Buffer.from(await new Response(file.readable({ start: 100, end: 70_000, chunkSize: 1000 })).arrayBuffer());
      expect({ whole: whole.equals(data), part: part.equals(data.subarray(100, 70_000)) }).toEqual({ whole: true, part: true });
    });
  });

  it("readable() is a Response body in Bun.serve", async () => {
    const data = recordBytes(100_000); // 1.6 MB: many chunks, more than one socket write
    await onFile(data, "r", async (file) => {
      await using server = Bun.serve({ port: 0, fetch: () => new Response(file.readable()) });
      const body = Buffer.from(await (await fetch(server.url)).arrayBuffer());
      expect(body.equals(data)).toBe(true);
    });
  });

  it("a consumer that never waits still lets timers run: cached reads yield to the event loop every few ms", async () => {
    const data = Buffer.alloc(32 * 1024 * 1024, 7);
    await onFile(data, "r", async (file) => {
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 1);
      const started = performance.now();
      let bytes = 0;
      try {
        for await (const chunk of file.readable()) bytes += chunk.byteLength;
      } finally {
        clearInterval(ticker);
      }
      const ms = performance.now() - started;
      console.log(`[fairness] ${name}: 32 MiB streamed in ${ms.toFixed(1)} ms, ${ticks} timer callbacks meanwhile`);
      expect({ bytes, timersRan: ms < 10 || ticks > 0 }).toEqual({ bytes: data.length, timersRan: true });
    });
  });

  it("a BYOB reader gets the file's bytes in its own buffer, then done", async () => {
    const data = recordBytes(1000);
    await onFile(data, "r", async (file) => {
      const reader = file.readable({ chunkSize: 3000 }).getReader({ mode: "byob" });
      const received: Buffer[] = [];
      for (;;) {
        const { done, value } = await reader.read(new Uint8Array(1024));
        if (done) break;
        expect(value.byteLength).toBeLessThanOrEqual(1024);
        received.push(Buffer.from(value));
      }
      expect(Buffer.concat(received).equals(data)).toBe(true);
    });
  });

  it("cancel mid-file and break out of for await stop reading ahead; memory in flight survives Bun.gc(true)", async () => {
    const data = recordBytes(64 * 1024); // 1 MiB
    await onFile(data, "r", async (file) => {
      const stream = file.readable({ chunkSize: 16 * 1024, readAhead: 8 });
      const reader = stream.getReader();
      const first = await reader.read();
      await reader.cancel();
      Bun.gc(true);
      let seen = 0;
      for await (const chunk of file.readable({ chunkSize: 16 * 1024, readAhead: 8 })) {
        seen += chunk.byteLength;
        Bun.gc(true);
        if (seen >= 64 * 1024) break;
      }
      Bun.gc(true);
      // The file still reads right afterwards: nothing was written into memory that was given back.
      const again = await file.readAt(4096, 0);
      expect({ first: first.value!.byteLength, seen, again: again.equals(data.subarray(0, 4096)) }).toEqual({
        first: 16 * 1024,
        seen: 64 * 1024,
        again: true,
      });
    });
  });

  it("readable() chunks handed out in their own blocks are never written again, kept or cancelled in flight, across Bun.gc(true)", async () => {
    const data = recordBytes(256 * 1024); // 4 MiB: 32 chunks of 128 KiB, each a native block of its own
    await onFile(data, "r", async (file) => {
      const kept: Uint8Array[] = [];
      let offset = 0;
      for await (const chunk of file.readable({ readAhead: 8 })) {
        kept.push(chunk);
        offset += chunk.byteLength;
        Bun.gc(true);
      }
      // Cancelled with 8 reads in flight; the next stream's blocks may come from the cache meanwhile.
      const cancelled = file.readable({ readAhead: 8 }).getReader();
      const first = (await cancelled.read()).value!;
      await cancelled.cancel();
      Bun.gc(true);
      const after: Uint8Array[] = [];
      for await (const chunk of file.readable({ start: 1024 * 1024, readAhead: 8 })) {
        after.push(chunk);
        Bun.gc(true);
      }
      const whole = Buffer.concat(kept);
      expect({
        offset,
        whole: whole.equals(data),
        first: Buffer.from(first).equals(data.subarray(0, first.byteLength)),
        after: Buffer.concat(after).equals(data.subarray(1024 * 1024)),
        stillWhole: Buffer.concat(kept).equals(data),
      }).toEqual({ offset: data.length, whole: true, first: true, after: true, stillWhole: true });
    });
  });

  it("writable() writes strings and views at the position, which follows it; sync fdatasyncs on close", async () => {
    await onFile(undefined, "w+", async (file, path) => {
      await file.write("head|");
      const writer = file.writable({ chunkSize: 7, sync: true }).getWriter();
      const parts = ["alpha ", Buffer.from("beta "), new Uint16Array([0x4847]), "ünï ", "x".repeat(100)];
      for (const part of parts) await writer.write(part);
      await writer.close();
      const expected = "head|alpha beta GHünï " + "x".repeat(100);
      expect({ contents: readFileSync(path, "utf8"), position: file.position }).toEqual({
        contents: expected,
        position: Buffer.byteLength(expected),
      });
    });
  });

  it("writable() applies backpressure: desiredSize falls to 0 and ready waits while writes are queued", async () => {
    await onFile(undefined, "w", async (file, path) => {
      const writer = file.writable({ highWaterMark: 2, writeBehind: 1, chunkSize: 1024 }).getWriter();
      const block = Buffer.alloc(4096, 7);
      const writes = [writer.write(block), writer.write(block), writer.write(block)];
      const desired = writer.desiredSize;
      let ready = false;
      writer.ready.then(() => (ready = true));
      await Promise.resolve();
      const readyWhileQueued = ready;
      await Promise.all(writes);
      await writer.close();
      expect({ desired, readyWhileQueued, size: readFileSync(path).length }).toEqual({ desired: -1, readyWhileQueued: false, size: 3 * 4096 });
    });
  });

  it("a failed write errors the stream with the system error", async () => {
    await onFile(Buffer.from("read only"), "r", async (file) => {
      const writer = file.writable().getWriter();
      const outcome = await (async () => {
        await writer.write("x".repeat(100_000));
        await writer.close();
      })().catch((error) => ({ code: error.code, syscall: error.syscall }));
      expect(outcome).toEqual({ code: "EBADF", syscall: "write" });
      await expect(writer.closed).rejects.toMatchObject({ code: "EBADF" });
    });
  });

  it("abort() stops writing and settles every write in flight; close() of the File still works afterwards", async () => {
    await onFile(undefined, "w", async (file, path) => {
      const writer = file.writable({ chunkSize: 4096, writeBehind: 8 }).getWriter();
      const writes = Array.from({ length: 16 }, () => writer.write(Buffer.alloc(4096, 1)).catch(() => "rejected"));
      await writer.abort(new Error("stop"));
      await Promise.all(writes);
      Bun.gc(true);
      const size = readFileSync(path).length;
      expect(size % 4096).toBe(0);
      expect(size).toBeLessThanOrEqual(16 * 4096);
    });
  });

  it("a stream or iterator keeps its File, so the File's collection never closes the descriptor under it", async () => {
    using dir = tempDir();
    const mine = join(dir, "mine");
    const other = join(dir, "other");
    writeFileSync(mine, Buffer.alloc(256 * 1024, "m"));
    writeFileSync(other, Buffer.alloc(256 * 1024, "o"));
    await using ctx = new Context({ backend: name as BackendName });
    // Made in a function of their own, so nothing but the stream and the iterator refers to the Files.
    const start = async () => {
      const stream = (await open(mine, "r", { context: ctx })).readable({ chunkSize: 4096 }).getReader();
      const iterator = (await open(mine, "r", { context: ctx })).chunks({ chunkSize: 4096, readAhead: 1 })[Symbol.asyncIterator]();
      return { stream, iterator, first: [(await stream.read()).value![0], (await iterator.next()).value![0]] };
    };
    const { stream, iterator, first } = await start();
    for (let i = 0; i < 5; i++) {
      Bun.gc(true);
      await Bun.sleep(10);
    }
    // Had a File been collected, its number would be free and these opens could take it.
    const others = [await open(other, "r", { context: ctx }), await open(other, "r", { context: ctx })];
    const seen = new Set<string>(first.map((byte) => String.fromCharCode(byte!)));
    for (let r = await stream.read(); !r.done; r = await stream.read()) seen.add(String.fromCharCode(r.value[0]!));
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) seen.add(String.fromCharCode(r.value[0]!));
    for (const file of others) await file.close();
    expect([...seen]).toEqual(["m"]);
  });
});
