/** The backends caio knows, in preference order, and how to open each. */
import type { Backend, BackendName } from "./backend.ts";
import { openLinuxBackend } from "./linux.ts";

export type { Backend, BackendName } from "./backend.ts";

type Opener = (capacity: number) => Backend;

/** Preference order for automatic selection; a name without an opener is not built yet. */
export const BACKEND_NAMES: readonly BackendName[] = ["uring", "linux", "thread", "js"];

const openers: Partial<Record<BackendName, Opener>> = {
  linux: openLinuxBackend,
};

export function isBackendName(value: unknown): value is BackendName {
  return typeof value === "string" && (BACKEND_NAMES as readonly string[]).includes(value);
}

/** Opens `name`, or throws an Error explaining why this machine cannot run it. */
export function openBackend(name: BackendName, capacity: number): Backend {
  const open = openers[name];
  if (!open) throw new Error(`caio: the "${name}" backend is not available in this version of caio`);
  return open(capacity);
}

/** Opens the most preferred backend that initialises here; throws with every reason if none does. */
export function openBestBackend(capacity: number): Backend {
  const reasons: string[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      return openBackend(name, capacity);
    } catch (error) {
      reasons.push(`${name}: ${(error as Error).message}`);
    }
  }
  throw new Error(`caio: no backend is available here:\n  ${reasons.join("\n  ")}`);
}
