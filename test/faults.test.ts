/**
 * A full disk is an error, never a hang or a silent loss: as root, a 1 MiB tmpfs is
 * mounted and filled through every backend. Skipped (with the reason) when not root.
 */
import { describe, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync } from "node:fs";
import { Context, type BackendName } from "../src/index.ts";
import { backends, isRoot, reportSkip, tempDir } from "./helpers.ts";

const canMount = isRoot() && Bun.which("mount") !== null;
if (!canMount) console.log("[skip] ENOSPC on a 1 MiB tmpfs: needs root and mount(8)");

/** A 1 MiB tmpfs mounted on a fresh directory; disposal unmounts and removes it. */
function smallTmpfs(): string & Disposable {
  const dir = tempDir();
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "caio-enospc", dir], { stderr: "pipe" });
  if (mounted.exitCode !== 0) {
    dir[Symbol.dispose]();
    throw new Error(`mount failed: ${mounted.stderr}`);
  }
  return Object.assign(`${dir}`, {
    [Symbol.dispose]() {
      Bun.spawnSync(["umount", dir]);
      dir[Symbol.dispose]();
    },
  });
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend on a full disk", (name, backend) => {
  reportSkip(backend);

  test.skipIf(!backend.available || !canMount)("writes past capacity end short or with ENOSPC; what was acknowledged is there", async () => {
    using mount = smallTmpfs();
    const path = `${mount}/fill`;
    const fd = openSync(path, "w+");
    try {
      await using ctx = new Context({ backend: name as BackendName, maxRequests: 8 });
      const chunk = Buffer.alloc(64 * 1024, 0x5a);
      // Up to 2 MiB into 1 MiB, each write where the last one ended, so acknowledged bytes are a prefix.
      let acknowledged = 0;
      let failure: any;
      for (let attempt = 0; attempt < 32 && !failure; attempt++) {
        try {
          acknowledged += await ctx.write(chunk, fd, acknowledged);
        } catch (error) {
          failure = error;
        }
      }
      expect(failure).toMatchObject({ code: "ENOSPC", errno: -28, syscall: "write" });
      expect(acknowledged).toBeGreaterThan(0);
      expect(acknowledged).toBeLessThanOrEqual(1024 * 1024);
      await ctx.fsync(fd);
      const contents = readFileSync(path);
      expect(contents.length).toBe(acknowledged);
      expect(contents.every((byte) => byte === 0x5a)).toBe(true);
    } finally {
      closeSync(fd);
    }
  });
});
