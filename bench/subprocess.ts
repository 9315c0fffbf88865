/** Helper programs (C ceilings, Python caio) that print one JSON line as their result. */

export type Outcome<T> = T | { error: string };

/**
 * Runs `argv` and parses the last line of its output as JSON; a program that fails says
 * why in the last line of its stderr (or its JSON's `error`).
 */
export async function runJsonLine<T>(argv: string[]): Promise<Outcome<T>> {
  let child;
  try {
    child = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  } catch (error) {
    return { error: (error as Error).message };
  }
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const reason = () => (stderr.trim().split("\n").at(-1) || `exit code ${exitCode}`).slice(0, 300);
  let parsed: Outcome<T> | undefined;
  try {
    parsed = JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as Outcome<T>;
  } catch {
    parsed = undefined;
  }
  if (parsed !== undefined && (exitCode === 0 || (typeof parsed === "object" && parsed !== null && "error" in parsed))) return parsed;
  return { error: exitCode === 0 ? `no JSON result (${reason()})` : reason() };
}
