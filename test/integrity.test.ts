/**
 * Nothing is lost or mixed up: 10,000 random-offset, random-size writes of random
 * data (1 B … 256 KiB, some vectored) interleaved with reads, many in flight, fsync,
 * then a full read-back, all compared with a model of the file. `bun run soak`
 * runs 100,000 per backend.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Context, type BackendName } from "../src/index.ts";
import { backends, reportSkip, tempFile } from "./helpers.ts";
import { runIntegrity } from "./support/integrity.ts";

const SEED = Number(process.env.CAIO_INTEGRITY_SEED ?? 0x5eed);

describe.each(backends.map((b) => [b.name, b] as const))("%s backend data integrity", (name, backend) => {
  reportSkip(backend);

  test.skipIf(!backend.available)(`10,000 mixed operations match the model exactly (seed ${SEED})`, async () => {
    using file = tempFile();
    await using ctx = new Context({ backend: name as BackendName, maxRequests: 32 });
    const result = await runIntegrity(ctx, file.fd, { operations: 10_000, seed: SEED });
    expect(result.mismatches).toEqual([]);
    expect(result.operations).toBe(10_000);
    expect(result.bytesWritten).toBeGreaterThan(10_000_000);
    expect(result.bytesRead).toBeGreaterThan(1_000_000);
    expect(ctx.stats).toMatchObject({ inFlight: 0, queued: 0 });
    // What the kernel has is what the model says, seen through a different path too.
    expect(readFileSync(file.path).equals(result.model)).toBe(true);
  });
});
