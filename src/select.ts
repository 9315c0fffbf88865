/**
 * Which backend a Context gets when none is asked for: the one named by
 * CAIO_IMPL, else by the first line of the package's `default_implementation` file
 * that names a backend, else the first in BACKEND_NAMES that initialises here.
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
  /** The refusal's error code: the errno name ("EPERM", "ENOSYS", ...) or "ERR_CAIO_BACKEND_UNAVAILABLE". */
  code?: string;
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
      const { message, code } = error as Error & { code?: unknown };
      return { name, available: false, reason: message, ...(typeof code === "string" ? { code } : {}) };
    }
  });
}

/** What a default_implementation file asks for. */
export interface FileSetting {
  /** The first line naming a backend caio knows, trimmed; undefined when no line does. */
  name?: BackendName;
  /** Lines before it that are neither blank, a `#` comment nor a backend name, trimmed. */
  skipped: string[];
}

/**
 * Reads a default_implementation file as Python caio does: the first line that names a
 * known backend wins, so a file written for another caio (or with a stray line) still
 * selects; unknown lines before it are returned so the caller can warn about them.
 */
export function readFileSetting(text: string): FileSetting {
  const skipped: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const value = line.trim();
    if (value === "" || value.startsWith("#")) continue;
    if (isBackendName(value)) return { name: value, skipped };
    skipped.push(value);
  }
  return { skipped };
}

interface Preference {
  name: string;
  source: string;
}

function warn(message: string): void {
  process.emitWarning(message, { type: "CaioWarning", code: "CAIO_IMPL" });
}

/** The file's backend, after one warning naming every line that was skipped to find it. */
function filePreference(text: string): Preference | undefined {
  const { name, skipped } = readFileSetting(text);
  if (skipped.length > 0) {
    const lines = skipped.map((line) => `"${line}"`).join(", ");
    const outcome = name ? `using "${name}", the first line naming one` : "selecting automatically";
    warn(`caio: ${DEFAULT_IMPLEMENTATION_FILE} has lines that name no backend (${lines}; allowed: ${ALLOWED}); ${outcome}`);
  }
  return name === undefined ? undefined : { name, source: DEFAULT_IMPLEMENTATION_FILE };
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
  return filePreference(text);
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
