/**
 * caio as a user gets it: `bun pm pack` this repository and `bun add` the tarball to a
 * fresh project. Shared by test/consumer.test.ts and test/embed.test.ts.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../helpers.ts";

/** Whether `bun run build` has run, so the package would ship prebuilt objects and declarations. */
export const packageBuilt =
  existsSync(join(repoRoot, "prebuilt", "objects.ts")) && existsSync(join(repoRoot, "types", "index.d.ts"));

export interface CommandResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  output: string;
}

/** Runs a command to its end, with `env` added to this process's environment. */
export async function run(command: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<CommandResult> {
  const child = Bun.spawn(command, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const [exitCode, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { exitCode, stdout, stderr, output: `${stdout}\n${stderr}` };
}

/** run(), throwing with the command's output when it fails. */
export async function mustRun(command: string[], cwd: string): Promise<string> {
  const result = await run(command, cwd);
  if (result.exitCode !== 0) throw new Error(`${command.join(" ")} failed (${result.exitCode}):\n${result.output}`);
  return result.output;
}

/** Packs caio into `scratch`/packed and installs it into a new project, `scratch`/project; returns the project. */
export async function installPackedCaio(scratch: string): Promise<string> {
  const packed = join(scratch, "packed");
  mkdirSync(packed);
  await mustRun([process.execPath, "pm", "pack", "--destination", packed], repoRoot);
  const tarball = join(packed, readdirSync(packed).find((name) => name.endsWith(".tgz"))!);
  const project = join(scratch, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "caio-consumer", private: true, type: "module" }));
  await mustRun([process.execPath, "add", tarball], project);
  return project;
}
