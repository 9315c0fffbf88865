/**
 * The shared objects shipped in prebuilt/<platform>/ (made by `bun run build`), the
 * manifest that says which c/ sources they were built from, and the module that
 * imports both so that bundles and compiled executables carry them.
 */
import { isAbsolute, join } from "node:path";
import { LIBRARY_NAME } from "./cache.ts";

export const PREBUILT_DIR = join(import.meta.dir, "..", "..", "prebuilt");
export const MANIFEST_FILE = join(PREBUILT_DIR, "manifest.json");
export const OBJECTS_MODULE = join(PREBUILT_DIR, "objects.ts");

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

/** What prebuilt/objects.ts, written by build.ts, exports. */
interface ShippedObjects {
  manifest: Manifest;
  /** Path of each architecture's object: absolute, inside an executable, or relative to a bundle. */
  objects: Partial<Record<string, string>>;
}

/**
 * The module build.ts writes next to the objects. Importing them and the manifest
 * from a module (`with { type: "file" }`, a JSON import) is what makes `bun build`
 * copy them beside a bundle and `bun build --compile` put them inside the
 * executable. Both architectures are imported: choosing by process.arch would be
 * a run-time choice the bundler cannot see, and the second object adds under 0.1%
 * to an executable of about 100 MB.
 */
export function objectsModuleText(arches: readonly PrebuiltArch[]): string {
  const imports = arches.map((arch) => `import ${arch} from "./${platformName(arch)}/${LIBRARY_NAME}" with { type: "file" };`);
  return [
    '// Written by `bun run build`; src/native/prebuilt.ts requires it. See objectsModuleText() there.',
    'import manifest from "./manifest.json" with { type: "json" };',
    ...imports,
    `export const objects = { ${arches.join(", ")} };`,
    "export { manifest };",
    "",
  ].join("\n");
}

/** The shipped objects and manifest, or why there are none (no `bun run build`, prebuilt/ removed). */
function shippedObjects(): ShippedObjects | { reason: string } {
  try {
    // require, not import: resolved only when called, so caio still loads without prebuilt/;
    // a literal path, so bundlers follow it and carry the module and what it imports.
    return require("../../prebuilt/objects.ts") as ShippedObjects;
  } catch (error) {
    const shipped = Object.keys(PREBUILT_TARGETS).map((arch) => platformName(arch)).join(", ");
    return { reason: `no prebuilt objects (${(error as Error).message.split("\n")[0]}; ${shipped} are built by "bun run build")` };
  }
}

/** Bun's prefix for files inside a `bun build --compile` executable, which only Bun itself can read. */
const EXECUTABLE_FILES = "/$bunfs/";

export interface PrebuiltObject {
  file: string;
  /** Inside a compiled executable: it must be copied to a real file before dlopen can use it. */
  embedded: boolean;
}

/** The prebuilt object for this machine, or why there is none that can be trusted to match the sources. */
export function findPrebuilt(currentSources: () => string): PrebuiltObject | { reason: string } {
  const shipped = shippedObjects();
  if ("reason" in shipped) return shipped;
  const found = shipped.objects[process.arch];
  if (!found) {
    return { reason: `no prebuilt object for ${platformName()} (this package was built for ${shipped.manifest.platforms.join(", ")})` };
  }
  // A bundle's asset paths are relative to the bundle, which is where this code then is.
  const file = isAbsolute(found) ? found : join(import.meta.dir, found);
  if (shipped.manifest.sources !== currentSources()) {
    return { reason: `${file} was built from other c/ sources than the ones shipped (rebuild with "bun run build")` };
  }
  return { file, embedded: file.startsWith(EXECUTABLE_FILES) };
}
