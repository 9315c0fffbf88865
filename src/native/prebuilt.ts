/**
 * The shared objects shipped in prebuilt/<platform>/ (made by `bun run build`) and
 * the manifest that says which c/ sources they were built from.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LIBRARY_NAME } from "./cache.ts";

export const PREBUILT_DIR = join(import.meta.dir, "..", "..", "prebuilt");
export const MANIFEST_FILE = join(PREBUILT_DIR, "manifest.json");

/** Architectures `bun run build` targets (glibc), with Debian's cross compiler for each. */
export const PREBUILT_TARGETS = {
  x64: { crossCompiler: "x86_64-linux-gnu-gcc", debianPackage: "gcc-x86-64-linux-gnu" },
  arm64: { crossCompiler: "aarch64-linux-gnu-gcc", debianPackage: "gcc-aarch64-linux-gnu" },
} as const;

export type PrebuiltArch = keyof typeof PREBUILT_TARGETS;

export interface Manifest {
  /** sourceHash() of the c/ files the objects were compiled from */
  sources: string;
  /** platforms built, e.g. "linux-x64" */
  platforms: string[];
}

export function platformName(arch: string = process.arch): string {
  return `linux-${arch}`;
}

export function prebuiltFile(arch: string = process.arch): string {
  return join(PREBUILT_DIR, platformName(arch), LIBRARY_NAME);
}

function readManifest(): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(MANIFEST_FILE, "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

/** The prebuilt object for this machine, or why there is none that can be trusted to match c/. */
export function findPrebuilt(currentSources: () => string): { file: string } | { reason: string } {
  const file = prebuiltFile();
  if (!existsSync(file)) {
    const shipped = Object.keys(PREBUILT_TARGETS).map((arch) => platformName(arch)).join(", ");
    return { reason: `no prebuilt object for ${platformName()} at ${file} (built for ${shipped} by "bun run build")` };
  }
  const manifest = readManifest();
  if (!manifest) return { reason: `${MANIFEST_FILE} is missing or unreadable` };
  if (manifest.sources !== currentSources()) {
    return { reason: `${file} was built from other c/ sources than the ones shipped (rebuild with "bun run build")` };
  }
  return { file };
}
