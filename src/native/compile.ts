/** Runs a system C compiler over c/ to produce the shared object (build.ts and the first-use cache). */
import { SHARED_OBJECT_FLAGS, SOURCE_DIR, sourceFiles } from "./sources.ts";

/** Compilers tried, in order, when CC is not set. */
const SYSTEM_COMPILERS = ["cc", "gcc", "clang"];

/**
 * The compiler command to use: CC split on spaces (so "ccache gcc" works), else the
 * first of cc, gcc, clang on PATH; undefined when there is none.
 */
export function findCompiler(env: Record<string, string | undefined> = process.env): string[] | undefined {
  const fromEnv = env.CC?.trim();
  if (fromEnv) {
    const command = fromEnv.split(/\s+/);
    return Bun.which(command[0]!) ? command : undefined;
  }
  const found = SYSTEM_COMPILERS.map((name) => Bun.which(name)).find((path) => path !== null);
  return found ? [found] : undefined;
}

export type CompileOutcome = { ok: true; ms: number } | { ok: false; reason: string };

/** The last lines of a compiler's output: enough to see the error without flooding a warning. */
function tail(text: string, lines = 20): string {
  return text.trim().split("\n").slice(-lines).join("\n");
}

function run(command: string[]): { exitCode: number; output: string } | { error: string } {
  try {
    const result = Bun.spawnSync(command, { stdout: "pipe", stderr: "pipe" });
    return { exitCode: result.exitCode, output: `${result.stdout.toString()}\n${result.stderr.toString()}` };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Compiles every .c file of the sources in `sourceDirectory` into `output` with `compiler`; never throws. */
export function compileSharedObject(compiler: string[], output: string, extraFlags: string[] = [], sourceDirectory = SOURCE_DIR): CompileOutcome {
  const started = performance.now();
  const result = run([...compiler, ...SHARED_OBJECT_FLAGS, ...extraFlags, "-o", output, ...sourceFiles(sourceDirectory)]);
  const name = compiler.join(" ");
  if ("error" in result) return { ok: false, reason: `could not run "${name}": ${result.error}` };
  if (result.exitCode === 0) return { ok: true, ms: performance.now() - started };
  const messages = tail(result.output);
  return { ok: false, reason: `"${name}" failed (exit ${result.exitCode})${messages ? `: ${messages}` : ""}` };
}
