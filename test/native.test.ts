/**
 * The C programs in test/c drive a backend's exported functions directly (no
 * JavaScript in between), built with AddressSanitizer and UndefinedBehaviorSanitizer:
 * any report fails the program. Skipped, with the reason, where no compiler can
 * build sanitized binaries.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, tempDir } from "./helpers.ts";

const SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"];
const FLAGS = ["-std=gnu11", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-pthread", ...SANITIZE];
const compiler = process.env.CC ?? "cc";
const checks = readdirSync(join(repoRoot, "test", "c")).filter((name) => name.endsWith("_check.c"));

function sanitizerProblem(dir: string): string | undefined {
  if (!Bun.which(compiler)) return `no C compiler ("${compiler}" is not on PATH)`;
  const probe = join(dir, "probe.c");
  writeFileSync(probe, "int main(void) { return 0; }\n");
  const built = Bun.spawnSync([compiler, ...SANITIZE, probe, "-o", join(dir, "probe")], { stderr: "pipe" });
  return built.exitCode === 0 ? undefined : `"${compiler}" cannot build sanitized programs: ${built.stderr.toString().trim()}`;
}

/**
 * LeakSanitizer stops the program's threads with ptrace at exit, which fails under a
 * tracer and under qemu-user ("LeakSanitizer has encountered a fatal error"). Where the
 * probe program hits that, the checks run with detect_leaks=0 (ASan and UBSan still on).
 */
function leakCheckProblem(dir: string): string | undefined {
  const run = Bun.spawnSync([join(dir, "probe")], { stderr: "pipe" });
  const said = run.stderr.toString();
  return run.exitCode !== 0 && said.includes("LeakSanitizer") ? said.trim().split("\n")[0] : undefined;
}

const scratch = tempDir();
afterAll(() => scratch[Symbol.dispose]());
const problem = sanitizerProblem(scratch);
if (problem) console.log(`[skip] native sanitizer checks: ${problem}`);
const leaks = problem ? undefined : leakCheckProblem(scratch);
if (leaks) console.log(`[skip] leak checks in the native checks (ASan and UBSan stay on): ${leaks}`);
const ASAN_OPTIONS = [process.env.ASAN_OPTIONS, leaks && "detect_leaks=0"].filter(Boolean).join(":") || undefined;

describe("native checks under ASan + UBSan", () => {
  test.skipIf(problem !== undefined).each(checks)("%s passes with no sanitizer report", async (name) => {
    const binary = join(scratch, name.replace(/\.c$/, ""));
    const built = Bun.spawnSync([compiler, ...FLAGS, join(repoRoot, "test", "c", name), "-o", binary], { stderr: "pipe" });
    expect(built.stderr.toString()).toBe("");
    expect(built.exitCode).toBe(0);
    const run = Bun.spawn([binary], { stdout: "pipe", stderr: "pipe", timeout: 60_000, cwd: scratch, env: { ...process.env, ASAN_OPTIONS } });
    const [exitCode, stdout, stderr] = await Promise.all([run.exited, new Response(run.stdout).text(), new Response(run.stderr).text()]);
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: "" });
    expect(stdout).toContain(": ok");
    const skipped = /: ok \(skipped: (.*)\)/.exec(stdout);
    if (skipped) console.log(`[skip] ${name}: ${skipped[1]}`);
  });
});
