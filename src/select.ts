/**
 * Which backend a Context gets when none is asked for: the one named by
 * CAIO_IMPL, else by the package's `default_implementation` file, else the first
 * in BACKEND_NAMES that initialises here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  BACKEND_NAMES,
  isBackendName,
  openBackend,
  openBestBackend,
  type Backend,
  type BackendName,
  type OpenOptions,
} from "./backends/index.ts";

export interface BackendAvailability {
  name: BackendName;
  /** True when a context of this backend could be created just now. */
  available: boolean;
  /** Why it cannot be used here (the kernel's refusal, a missing shared object, ...). */
  reason?: string;
}

/** Next to package.json; distribution packagers drop it in to change the default. */
export const DEFAULT_IMPLEMENTATION_FILE = join(import.meta.dir, "..", "default_implementation");

const ALLOWED = BACKEND_NAMES.join(", ");

/**
 * Tries every backend by creating (and closing) a one-slot context, in preference
 * order. Costs a few milliseconds per kernel backend; meant for diagnostics and
 * startup checks, not for every request.
 */
export function availableBackends(): BackendAvailability[] {
  return BACKEND_NAMES.map((name) => {
    try {
      openBackend(name, 1).close();
      return { name, available: true };
    } catch (error) {
      return { name, available: false, reason: (error as Error).message };
    }
  });
}

/** The first line of `text` that is neither blank nor a `#` comment, trimmed. */
export function firstSetting(text: string): string | undefined {
  for (const line of text.split(/\r?\n/)) {
    const value = line.trim();
    if (value !== "" && !value.startsWith("#")) return value;
  }
  return undefined;
}

interface Preference {
  name: string;
  source: string;
}

function readPreference(): Preference | undefined {
  const fromEnv = process.env.CAIO_IMPL?.trim();
  if (fromEnv) return { name: fromEnv, source: "CAIO_IMPL" };
  let text: string;
  try {
    text = readFileSync(DEFAULT_IMPLEMENTATION_FILE, "utf8");
  } catch {
    return undefined;
  }
  const name = firstSetting(text);
  return name === undefined ? undefined : { name, source: DEFAULT_IMPLEMENTATION_FILE };
}

function warn(message: string): void {
  process.emitWarning(message, { type: "CaioWarning", code: "CAIO_IMPL" });
}

/** undefined = not read yet; null = nothing usable is configured. */
let preference: Preference | null | undefined;

function configuredPreference(): Preference | null {
  if (preference !== undefined) return preference;
  const found = readPreference() ?? null;
  if (found && !isBackendName(found.name)) {
    warn(`caio: ${found.source} names "${found.name}", which is not a backend (allowed: ${ALLOWED}); selecting automatically`);
    return (preference = null);
  }
  return (preference = found);
}

/**
 * Opens the configured backend, or the best available one. A configured backend
 * that cannot start here is reported once, with the reason, and then ignored.
 */
export function openDefaultBackend(capacity: number, options: OpenOptions = {}): Backend {
  const configured = configuredPreference();
  if (configured) {
    try {
      return openBackend(configured.name as BackendName, capacity, options);
    } catch (error) {
      preference = null;
      warn(
        `caio: ${configured.source} asks for "${configured.name}", which cannot run here (${(error as Error).message}); ` +
          `allowed: ${ALLOWED}; selecting automatically`,
      );
    }
  }
  return openBestBackend(capacity, options);
}
