/**
 * The C sources shipped in c/ and the flags every system-compiler build of them
 * uses. build.ts (prebuilt objects) and the first-use compile (cache) share these,
 * so a cached object is built the same way as a prebuilt one.
 *
 * The sources are imported as text, not read from c/ at run time: `bun build`
 * (a bundle) and `bun build --compile` (an executable) then carry them, so TinyCC
 * and the cache compiler work where there is no c/ directory on disk.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import aio from "../../c/aio.c" with { type: "text" };
import aioRoute from "../../c/aio_route.h" with { type: "text" };
import aioSubmit from "../../c/aio_submit.h" with { type: "text" };
import common from "../../c/common.h" with { type: "text" };
import fileops from "../../c/fileops.h" with { type: "text" };
import fsclass from "../../c/fsclass.h" with { type: "text" };
import memoryC from "../../c/memory.c" with { type: "text" };
import memoryCache from "../../c/memory_cache.h" with { type: "text" };
import memoryH from "../../c/memory.h" with { type: "text" };
import memoryHolds from "../../c/memory_holds.h" with { type: "text" };
import memoryIndex from "../../c/memory_index.h" with { type: "text" };
import opHolds from "../../c/op_holds.h" with { type: "text" };
import opRun from "../../c/op_run.h" with { type: "text" };
import owner from "../../c/owner.h" with { type: "text" };
import pool from "../../c/pool.c" with { type: "text" };
import ring from "../../c/ring.h" with { type: "text" };
import ringQueues from "../../c/ring_queues.h" with { type: "text" };
import uring from "../../c/uring.c" with { type: "text" };
import uringBudget from "../../c/uring_budget.h" with { type: "text" };
import uringChain from "../../c/uring_chain.h" with { type: "text" };
import uringRoute from "../../c/uring_route.h" with { type: "text" };
import uringSetup from "../../c/uring_setup.h" with { type: "text" };
import uringSqe from "../../c/uring_sqe.h" with { type: "text" };
import uringSubmit from "../../c/uring_submit.h" with { type: "text" };
import wake from "../../c/wake.h" with { type: "text" };
import workers from "../../c/workers.h" with { type: "text" };
import workersQueue from "../../c/workers_queue.h" with { type: "text" };
import workersThreads from "../../c/workers_threads.h" with { type: "text" };

/** Where the sources are in a checkout or an installed package (in a bundle it names nothing useful). */
export const SOURCE_DIR = join(import.meta.dir, "..", "..", "c");

/**
 * Every file of c/, by name. A new file in c/ must be added here (test/embed.test.ts
 * checks), because a bundler only carries what is imported by name.
 */
export const SOURCES: Readonly<Record<string, string>> = {
  "aio.c": aio,
  "aio_route.h": aioRoute,
  "aio_submit.h": aioSubmit,
  "common.h": common,
  "fileops.h": fileops,
  "fsclass.h": fsclass,
  "memory.c": memoryC,
  "memory_cache.h": memoryCache,
  "memory.h": memoryH,
  "memory_holds.h": memoryHolds,
  "memory_index.h": memoryIndex,
  "op_holds.h": opHolds,
  "op_run.h": opRun,
  "owner.h": owner,
  "pool.c": pool,
  "ring.h": ring,
  "ring_queues.h": ringQueues,
  "uring.c": uring,
  "uring_budget.h": uringBudget,
  "uring_chain.h": uringChain,
  "uring_route.h": uringRoute,
  "uring_setup.h": uringSetup,
  "uring_sqe.h": uringSqe,
  "uring_submit.h": uringSubmit,
  "wake.h": wake,
  "workers.h": workers,
  "workers_queue.h": workersQueue,
  "workers_threads.h": workersThreads,
};

/** Flags for the shared object; -Werror is added only by build.ts, never on a user's compiler. */
export const SHARED_OBJECT_FLAGS = ["-std=gnu11", "-O2", "-fPIC", "-shared", "-fvisibility=hidden", "-pthread"];

/** Warnings that fail caio's own builds (a user's newer compiler may warn about more). */
export const STRICT_FLAGS = ["-Wall", "-Wextra", "-Werror"];

function sourceNames(): string[] {
  return Object.keys(SOURCES).sort();
}

/** The translation units, `directory`/*.c, as absolute paths in a stable order. */
export function sourceFiles(directory: string = SOURCE_DIR): string[] {
  return sourceNames()
    .filter((name) => name.endsWith(".c"))
    .map((name) => join(directory, name));
}

/** sha256 of every c/ source and header (names and contents): identifies what an object was built from. */
export function sourceHash(): string {
  const hash = createHash("sha256");
  for (const name of sourceNames()) {
    hash.update(`${name}\0`);
    hash.update(SOURCES[name]!);
    hash.update("\0");
  }
  return hash.digest("hex");
}

/** Whether `directory` holds exactly these sources, so a compiler can be pointed at it as it is. */
export function holdsSources(directory: string): boolean {
  return sourceNames().every((name) => {
    const file = join(directory, name);
    return existsSync(file) && readFileSync(file, "utf8") === SOURCES[name];
  });
}
