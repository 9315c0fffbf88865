/** 50,000 completions that arrive after their submitting call, on every backend, none lost or wrong. */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Context, type BackendName } from "../src/index.ts";
import { backends, reportSkip, tempDir } from "./helpers.ts";
import { runWakeSoak, writeIndexedFile } from "./support/wake.ts";

describe.each(backends.map((b) => [b.name, b] as const))("%s backend wake path", (name, backend) => {
  reportSkip(backend);

  test.skipIf(!backend.available)("50,000 asynchronous O_DIRECT completions: every one arrives, every block is right", async () => {
    using dir = tempDir();
    const path = join(dir, "indexed");
    writeIndexedFile(path);
    await using ctx = new Context({ backend: name as BackendName, maxRequests: 64 });
    const result = await runWakeSoak(ctx, path, 50_000);
    expect(result).toEqual({ completed: 50_000, wrong: 0, buffered: false });
    expect(ctx.stats).toMatchObject({ submitted: 50_000, completed: 50_000, inFlight: 0, queued: 0 });
  });
});
