/**
 * The long reliability runs behind the CI-sized tests, on every available backend:
 * 100,000 integrity operations (random writes and reads against a model of the file)
 * and 1,000,000 O_DIRECT completions through the wake path.
 *
 *   bun run soak                                  # everything
 *   bun bench/soak.ts --operations 20000 --completions 100000 --seed 7
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { availableBackends, Context, type BackendName } from "../src/index.ts";
import { runIntegrity } from "../test/support/integrity.ts";
import { runWakeSoak, writeIndexedFile } from "../test/support/wake.ts";

const { values: args } = parseArgs({
  options: {
    operations: { type: "string", default: "100000" },
    completions: { type: "string", default: "1000000" },
    seed: { type: "string", default: String(Date.now() >>> 0) },
    dir: { type: "string", default: join(import.meta.dir, ".data") },
  },
});
const OPERATIONS = Number(args.operations);
const COMPLETIONS = Number(args.completions);
const SEED = Number(args.seed);

async function soak(backend: BackendName, dir: string): Promise<boolean> {
  const path = join(dir, `integrity-${backend}`);
  const fd = openSync(path, "w+");
  let started = performance.now();
  const ctx = new Context({ backend, maxRequests: 64 });
  try {
    const integrity = await runIntegrity(ctx, fd, { operations: OPERATIONS, seed: SEED });
    const integritySeconds = (performance.now() - started) / 1000;
    console.log(
      `${backend}: integrity ${integrity.operations} ops, ${(integrity.bytesWritten / 2 ** 20).toFixed(0)} MiB written, ` +
        `${(integrity.bytesRead / 2 ** 20).toFixed(0)} MiB read, ${integrity.mismatches.length} mismatches (${integritySeconds.toFixed(1)} s)`,
    );
    for (const mismatch of integrity.mismatches.slice(0, 10)) console.log(`  ${mismatch}`);

    const indexed = join(dir, `indexed-${backend}`);
    writeIndexedFile(indexed);
    started = performance.now();
    const wake = await runWakeSoak(ctx, indexed, COMPLETIONS);
    const wakeSeconds = (performance.now() - started) / 1000;
    console.log(
      `${backend}: wake path ${wake.completed} ${wake.buffered ? "buffered (no O_DIRECT here)" : "O_DIRECT"} completions, ` +
        `${wake.wrong} wrong (${wakeSeconds.toFixed(1)} s)`,
    );
    return integrity.mismatches.length === 0 && wake.wrong === 0 && wake.completed === COMPLETIONS;
  } finally {
    await ctx.close();
    closeSync(fd);
  }
}

mkdirSync(args.dir!, { recursive: true });
const dir = mkdtempSync(join(args.dir!, "soak-"));
console.log(`soak: seed ${SEED}, ${OPERATIONS} integrity operations and ${COMPLETIONS} wake-path completions per backend`);
let ok = true;
try {
  for (const { name, available, reason } of availableBackends()) {
    if (!available) {
      console.log(`${name}: skipped (${reason})`);
      continue;
    }
    ok = (await soak(name, dir)) && ok;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(ok ? "soak: ok" : "soak: FAILED");
process.exit(ok ? 0 : 1);
