/**
 * `bun run build`: compiles c/ into the prebuilt shared objects the package ships,
 * prebuilt/linux-x64/libcaio.so and prebuilt/linux-arm64/libcaio.so (glibc), the
 * second with Debian's gcc-aarch64-linux-gnu cross compiler (a target whose
 * compiler is missing is skipped with a message), writes prebuilt/manifest.json and
 * prebuilt/objects.ts (which imports the objects built, so bundles carry them), and
 * emits the TypeScript declarations into types/.
 *
 * `bun build.ts --sanitize` instead builds build/libcaio-sanitize.so with ASan + UBSan.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { compileSharedObject, findCompiler } from "./src/native/compile.ts";
import {
  MANIFEST_FILE,
  OBJECTS_MODULE,
  objectsModuleText,
  platformName,
  prebuiltFile,
  PREBUILT_DIR,
  PREBUILT_TARGETS,
  type PrebuiltArch,
} from "./src/native/prebuilt.ts";
import { sourceHash, STRICT_FLAGS } from "./src/native/sources.ts";

const root = import.meta.dir;
const SANITIZE_FLAGS = ["-g", "-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all"];

function fail(message: string): never {
  console.error(`caio build: ${message}`);
  process.exit(1);
}

/** The host's own compiler for its architecture (as the first-use compile finds it); Debian's cross compiler for the other. */
function compilerFor(arch: PrebuiltArch): string[] {
  if (arch !== process.arch) return [PREBUILT_TARGETS[arch].crossCompiler];
  return findCompiler() ?? (process.env.CC ?? "cc").trim().split(/\s+/);
}

function installHint(arch: PrebuiltArch): string {
  if (arch === process.arch) return 'install one ("apt-get install gcc") or point CC at a compiler';
  return `install it with "apt-get install ${PREBUILT_TARGETS[arch].debianPackage}" to ship ${platformName(arch)} too`;
}

function buildTarget(arch: PrebuiltArch): boolean {
  const compiler = compilerFor(arch);
  if (!Bun.which(compiler[0]!)) {
    const message = `skipping ${platformName(arch)}: "${compiler[0]}" is not on PATH; ${installHint(arch)}`;
    if (arch === process.arch) fail(message);
    console.warn(`caio build: ${message}`);
    return false;
  }
  const output = prebuiltFile(arch);
  mkdirSync(dirname(output), { recursive: true });
  const outcome = compileSharedObject(compiler, output, STRICT_FLAGS);
  if (!outcome.ok) fail(`${platformName(arch)}: ${outcome.reason}`);
  console.log(`caio build: wrote ${output} (${compiler.join(" ")}, ${Math.round(outcome.ms)} ms)`);
  return true;
}

function buildPrebuilt(): void {
  rmSync(PREBUILT_DIR, { recursive: true, force: true });
  const built = (Object.keys(PREBUILT_TARGETS) as PrebuiltArch[]).filter(buildTarget);
  const platforms = built.map((arch) => platformName(arch));
  writeFileSync(MANIFEST_FILE, `${JSON.stringify({ sources: sourceHash(), platforms }, null, 2)}\n`);
  writeFileSync(OBJECTS_MODULE, objectsModuleText(built));
}

/** Declarations for consumers: the .ts sources import with .ts extensions and need Bun's types, .d.ts files do not. */
function buildDeclarations(): void {
  const tsc = join(root, "node_modules", ".bin", "tsc");
  if (!existsSync(tsc)) {
    console.warn('caio build: skipping types/: TypeScript is not installed (run "bun install")');
    return;
  }
  rmSync(join(root, "types"), { recursive: true, force: true });
  const result = Bun.spawnSync([tsc, "-p", join(root, "tsconfig.types.json")], { stdout: "inherit", stderr: "inherit" });
  if (result.exitCode !== 0) fail(`tsc could not emit the declarations (exit ${result.exitCode}); its messages are above`);
  console.log(`caio build: wrote ${join(root, "types")}`);
}

function buildSanitized(): void {
  const output = join(root, "build", "libcaio-sanitize.so");
  mkdirSync(dirname(output), { recursive: true });
  const outcome = compileSharedObject(compilerFor(process.arch as PrebuiltArch), output, [...STRICT_FLAGS, ...SANITIZE_FLAGS]);
  if (!outcome.ok) fail(outcome.reason);
  console.log(`caio build: wrote ${output}`);
}

if (import.meta.main) {
  if (process.argv.includes("--sanitize")) {
    buildSanitized();
  } else {
    buildPrebuilt();
    buildDeclarations();
  }
}
