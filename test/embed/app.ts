/**
 * A user's program that test/embed.test.ts installs caio for, then turns into a
 * compiled executable and a bundle: it writes, fsyncs and reads back through the
 * default backend and prints one JSON line with that backend and nativeLibrary().
 */
import { Context } from "caio";
import { nativeLibrary } from "caio/native";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "caio-embed-app-"));
const fd = openSync(join(dir, "data"), "w+");
try {
  await using ctx = new Context({ maxRequests: 8 });
  const text = `written through ${ctx.backend}`;
  await ctx.write(text, fd, 0);
  await ctx.fsync(fd);
  const readBack = (await ctx.read(text.length, fd, 0)).toString() === text;
  console.log(JSON.stringify({ backend: ctx.backend, readBack, library: nativeLibrary() }));
} finally {
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
}
