/**
 * Node's fs.promises as a contender: node/fs-promises.mjs runs the shared loops in a
 * Node subprocess with the same parameters and prints its figure.
 */
import { join } from "node:path";
import type { Latency } from "./shared/loops.mjs";

export type NodeLoop = "random" | "latency" | "sequential" | "writes";

export interface NodeJob {
  loop: NodeLoop;
  file: string;
  direct: boolean;
  depth: number;
  seconds: number;
  fileBytes: number;
  block: number;
}

const SCRIPT = join(import.meta.dir, "node", "fs-promises.mjs");

/** Why Node rows are skipped, or undefined when `node` is on PATH. */
export function nodeUnavailable(): string | undefined {
  return Bun.which("node") ? undefined : "node is not installed";
}

/** One Node run: a number (per second) or a Latency for the latency loop; or why it failed. */
export async function runNode(job: NodeJob): Promise<{ value: number | Latency } | { error: string }> {
  const child = Bun.spawn(["node", SCRIPT, JSON.stringify(job)], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const lastLine = stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(lastLine);
  } catch {
    return { error: (stderr.trim().split("\n")[0] || `exit code ${exitCode}`).slice(0, 200) };
  }
}
