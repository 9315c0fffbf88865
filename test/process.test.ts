/** The process lives exactly as long as caio has work: never exits with I/O pending, never hangs when idle. */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { backends, repoRoot, reportSkip, runBun, tempDir, type RunResult } from "./helpers.ts";

const entry = JSON.stringify(join(repoRoot, "src", "index.ts"));

/** Runs a script that imports caio in a fresh Bun process. */
function runScript(dir: string, body: string): Promise<RunResult> {
  const script = join(dir, "script.ts");
  writeFileSync(script, `import { Context, allocAligned } from ${entry};\nimport { openSync, constants } from "node:fs";\n${body}\n`);
  return runBun(script);
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend process lifetime", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);

  it("an un-awaited write on the script's last line reaches the file", async () => {
    using dir = tempDir();
    const path = join(dir, "out");
    const result = await runScript(
      dir,
      `const fd = openSync(${JSON.stringify(path)}, "w");
const ctx = new Context({ backend: "${name}" });
ctx.write(Buffer.alloc(1 << 20, 0x61), fd, 0);`,
    );
    expect(result).toMatchObject({ exitCode: 0, stderr: "" });
    expect(readFileSync(path).equals(Buffer.alloc(1 << 20, 0x61))).toBe(true);
  });

  it("thousands of queued fire-and-forget writes all land before exit, O_DIRECT included", async () => {
    using dir = tempDir();
    const buffered = join(dir, "buffered");
    const direct = join(dir, "direct");
    const result = await runScript(
      dir,
      `const ctx = new Context({ backend: "${name}", maxRequests: 8 });
const a = openSync(${JSON.stringify(buffered)}, "w");
const b = openSync(${JSON.stringify(direct)}, constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT);
for (let i = 0; i < 2000; i++) ctx.write(Buffer.from(String(i % 10).repeat(16)), a, i * 16);
for (let i = 0; i < 256; i++) ctx.write(allocAligned(4096).fill(65 + (i % 26)), b, i * 4096);`,
    );
    expect(result).toMatchObject({ exitCode: 0, stderr: "" });
    const expectedBuffered = Buffer.concat(Array.from({ length: 2000 }, (_, i) => Buffer.from(String(i % 10).repeat(16))));
    const expectedDirect = Buffer.concat(Array.from({ length: 256 }, (_, i) => Buffer.alloc(4096, 65 + (i % 26))));
    expect(readFileSync(buffered).equals(expectedBuffered)).toBe(true);
    expect(readFileSync(direct).equals(expectedDirect)).toBe(true);
  });

  it("once idle the process exits promptly even though the context was never closed", async () => {
    using dir = tempDir();
    const path = join(dir, "data");
    const result = await runScript(
      dir,
      `const ctx = new Context({ backend: "${name}" });
const fd = openSync(${JSON.stringify(path)}, constants.O_RDWR | constants.O_CREAT | constants.O_DIRECT);
await ctx.write(allocAligned(4096).fill(1), fd, 0);
await ctx.readInto(allocAligned(4096), fd, 0);
await ctx.read(4096, fd, 0);`,
    );
    expect(result).toMatchObject({ exitCode: 0, stderr: "" });
    // A process held open by a forgotten wait would be killed at 20 s.
    expect(result.ms).toBeLessThan(10_000);
  });

  it("contexts dropped without close() are freed by the garbage collector (backstop, not the plan)", async () => {
    using dir = tempDir();
    // A linux context of 4096 reserves over 8192 aio events: without the backstop, 100 of them exceed fs.aio-max-nr.
    const result = await runScript(
      dir,
      `for (let i = 0; i < 100; i++) {
  new Context({ backend: "${name}", maxRequests: 4096 });
  if (i % 4 === 3) { Bun.gc(true); await new Promise((resolve) => setImmediate(resolve)); }
}`,
    );
    expect(result).toMatchObject({ exitCode: 0, stderr: "" });
  });
});
