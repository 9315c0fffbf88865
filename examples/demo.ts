/** The seed example: run with `bun run demo`. */
import { mkdtempSync, openSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Context } from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "caio-demo-"));
const path = join(dir, "hello.txt");
const fd = openSync(path, "w+");
try {
  await using ctx = new Context();
  console.log(`caio backend: ${ctx.backend} (maxRequests ${ctx.maxRequests})`);

  await ctx.write("Hello world", fd, 0);
  console.log((await ctx.read(32, fd, 0)).toString());

  await Promise.all([ctx.write("Hello from ", fd, 0), ctx.write("async world", fd, 11)]);
  console.log((await ctx.read(32, fd, 0)).toString());

  await ctx.fdsync(fd);
  await ctx.fsync(fd);
  console.log(ctx.stats);
} finally {
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
}
