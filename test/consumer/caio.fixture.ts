/**
 * The test a user would write in their own project. test/consumer.test.ts installs
 * the packed tarball into a fresh project and runs this there as caio.test.ts.
 */
import { expect, test } from "bun:test";
import { Context, type BackendName } from "caio";
import { nativeLibrary, type NativeLibrary } from "caio/native";
import { mkdtempSync, openSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

test("caio writes, fsyncs and reads back from an installed package", async () => {
  const dir = mkdtempSync(join(tmpdir(), "caio-consumer-"));
  const fd = openSync(join(dir, "data"), "w+");
  try {
    await using ctx = new Context({ maxRequests: 16 });
    const backend: BackendName = ctx.backend;
    expect(await ctx.write("hello from a consumer", fd, 0)).toBe(21);
    await ctx.fsync(fd);
    const back: Buffer = await ctx.read(64, fd, 0);
    expect(back.toString()).toBe("hello from a consumer");
    const library: NativeLibrary = nativeLibrary();
    console.log(`[consumer] backend=${backend} load=${library.path}${library.file ? ` file=${library.file}` : ""}`);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});
