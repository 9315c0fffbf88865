/** The seed example: run with `bun run demo`. */
import { mkdtempSync, openSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { availableBackends, Context } from "../src/index.ts";

for (const { name, available, reason } of availableBackends()) {
  console.log(`  ${available ? "✓" : "✗"} ${name}${reason ? `: ${reason}` : ""}`);
}

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

  // One vectored write of three buffers, read back into two.
  await ctx.writev([Buffer.from("caio "), Buffer.from("for "), Buffer.from("Bun")], fd, 0);
  const [head, tail] = [Buffer.alloc(5), Buffer.alloc(7)];
  await ctx.readv([head, tail], fd, 0);
  console.log(`${head}|${tail}`);

  await ctx.fdsync(fd);
  await ctx.fsync(fd);
  console.log(ctx.stats);
} finally {
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
}
