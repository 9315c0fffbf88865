/**
 * One submitting system call per tick, counted by the kernel's side of the story:
 * strace sees exactly the calls ctx.stats reports. Skipped (with the reason) when
 * strace is not installed; the stats-only version is in the shared suite.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { backends, record, recordBytes, repoRoot, reportSkip, runBun, tempDir } from "./helpers.ts";

const SUBMIT_SYSCALL: Record<string, string> = { uring: "io_uring_enter", linux: "io_submit" };
const strace = Bun.which("strace");
if (!strace) console.log("[skip] syscall counting: strace is not installed (apt-get install strace)");

/** Calls per syscall from `strace -c` output. */
function callCounts(summary: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of summary.split("\n")) {
    const match = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/.exec(line);
    if (match && match[2] !== "total") counts[match[2]!] = Number(match[1]);
  }
  return counts;
}

const kernelBackends = backends.filter((b) => b.name in SUBMIT_SYSCALL);

describe.each(kernelBackends.map((b) => [b.name, b] as const))("%s backend under strace", (name, backend) => {
  reportSkip(backend);
  const syscall = SUBMIT_SYSCALL[name]!;

  // linux sends buffered reads to its thread pool, so its io_submit batch is shown with O_DIRECT reads.
  const direct = name === "linux";
  test.skipIf(!backend.available || !strace)(`64 ${direct ? "O_DIRECT " : ""}reads issued in one tick cost exactly one ${syscall}`, async () => {
    using dir = tempDir();
    const data = join(dir, "data");
    const script = join(dir, "script.ts");
    const src = JSON.stringify(join(repoRoot, "src", "index.ts"));
    if (direct) {
      const blocks = Buffer.alloc(64 * 4096);
      for (let i = 0; i < 64; i++) blocks.write(record(i), i * 4096, "latin1");
      writeFileSync(data, blocks);
    } else {
      writeFileSync(data, recordBytes(64));
    }
    const reads = direct
      ? `const fd = openSync(${JSON.stringify(data)}, constants.O_RDONLY | constants.O_DIRECT);
const buffers = Array.from({ length: 64 }, () => allocAligned(4096));
await Promise.all(buffers.map((buffer, i) => ctx.readInto(buffer, fd, i * 4096)));
const records = buffers.map((buffer) => buffer.subarray(0, 16).toString("latin1"));`
      : `const fd = openSync(${JSON.stringify(data)}, "r");
const records = await Promise.all(Array.from({ length: 64 }, (_, i) => ctx.read(16, fd, i * 16)));`;
    writeFileSync(
      script,
      `import { allocAligned, Context } from ${src};
import { constants, openSync } from "node:fs";
const ctx = new Context({ backend: "${name}" });
${reads}
const stats = ctx.stats;
await ctx.close();
console.log(JSON.stringify({ stats, text: records.map(String).join("") }));`,
    );
    const summary = join(dir, "strace.txt");
    const { exitCode, stdout, stderr } = await runBun(script, {}, [strace!, "-f", "-c", "-o", summary, "-e", `trace=${syscall}`]);
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
    const { stats, text } = JSON.parse(stdout);
    expect(text).toBe(recordBytes(64).toString());
    expect({ submitted: stats.submitted, submitCalls: stats.submitCalls }).toEqual({ submitted: 64, submitCalls: 1 });
    expect(callCounts(readFileSync(summary, "utf8"))[syscall]).toBe(1);
  });
});
