/** File operations' errors: node:fs-shaped system errors, argument errors before anything reaches C, path fuzz. */
import { describe, expect, test } from "bun:test";
import { chmodSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Context, type BackendName } from "../src/index.ts";
import { backends, isRoot, repoRoot, reportSkip, runBun, tempDir } from "./helpers.ts";

async function failure(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  const error = (await promise.then(
    () => new Error("resolved"),
    (e) => e,
  )) as Record<string, unknown>;
  const shape: Record<string, unknown> = { name: error.name, code: error.code, message: error.message };
  for (const key of ["errno", "syscall", "path", "dest"]) if (key in error) shape[key] = error[key];
  return shape;
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend: file errors", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);
  const open = () => new Context({ backend: name as BackendName });

  it("system errors read like node:fs's: code, errno, syscall, path (and dest for rename)", async () => {
    using dir = tempDir();
    await using ctx = open();
    writeFileSync(join(dir, "file"), "x");
    expect(await failure(ctx.open("missing.txt"))).toEqual({
      name: "Error",
      code: "ENOENT",
      errno: -2,
      syscall: "open",
      path: "missing.txt",
      message: "ENOENT: no such file or directory, open 'missing.txt'",
    });
    expect(await failure(ctx.readFile("missing.txt"))).toMatchObject({ code: "ENOENT", syscall: "open", path: "missing.txt" });
    expect(await failure(ctx.stat(join(dir, "nope")))).toMatchObject({ code: "ENOENT", syscall: "stat", path: join(dir, "nope") });
    expect(await failure(ctx.unlink(join(dir, "nope")))).toMatchObject({ code: "ENOENT", syscall: "unlink" });
    expect(await failure(ctx.rename("a-missing", "b"))).toEqual({
      name: "Error",
      code: "ENOENT",
      errno: -2,
      syscall: "rename",
      path: "a-missing",
      dest: "b",
      message: "ENOENT: no such file or directory, rename 'a-missing' -> 'b'",
    });
    expect(await failure(ctx.mkdir(join(dir, "file")))).toMatchObject({ code: "EEXIST", syscall: "mkdir" });
    expect(await failure(ctx.mkdir(join(dir, "file"), { recursive: true }))).toMatchObject({ code: "EEXIST", syscall: "mkdir" });
    expect(await failure(ctx.mkdir(join(dir, "file", "sub"), { recursive: true }))).toMatchObject({ code: "ENOTDIR", syscall: "mkdir" });
    expect(await failure(ctx.writeFile(join(dir, "file"), "y", { flag: "wx" }))).toMatchObject({ code: "EEXIST", syscall: "open" });
    expect(await failure(ctx.closeFd(2 ** 31 - 2))).toMatchObject({ code: "EBADF", syscall: "close" });
    expect(await failure(ctx.stat(2 ** 31 - 2))).toMatchObject({ code: "EBADF", syscall: "fstat" });
    expect(await failure(ctx.truncate(2 ** 31 - 2))).toMatchObject({ code: "EBADF", syscall: "ftruncate" });
  });

  it("bad paths, flags, modes and options are argument errors raised before anything is submitted", async () => {
    await using ctx = open();
    const before = ctx.stats.submitted;
    for (const path of [undefined, null, 42, {}, ["a"], Symbol.iterator]) {
      expect(await failure(ctx.open(path as never))).toMatchObject({ name: "TypeError", code: "ERR_INVALID_ARG_TYPE" });
      expect(await failure(ctx.readFile(path as never))).toMatchObject({ code: "ERR_INVALID_ARG_TYPE" });
    }
    for (const path of ["a\0b", Buffer.from("a\0b"), new URL("file:///tmp/a%00b")]) {
      expect(await failure(ctx.stat(path))).toMatchObject({ name: "TypeError", code: "ERR_INVALID_ARG_VALUE" });
    }
    expect(await failure(ctx.readFile(new URL("http://example.com/x")))).toMatchObject({ code: "ERR_INVALID_URL_SCHEME" });
    expect(await failure(ctx.open("/tmp/x", "q"))).toMatchObject({
      code: "ERR_INVALID_ARG_VALUE",
      message: "The argument 'flags' is invalid. Received 'q'",
    });
    expect(await failure(ctx.open("/tmp/x", 1.5))).toMatchObject({ code: "ERR_OUT_OF_RANGE" });
    expect(await failure(ctx.open("/tmp/x", {} as never))).toMatchObject({ code: "ERR_INVALID_ARG_TYPE" });
    expect(await failure(ctx.open("/tmp/x", "w", -1))).toMatchObject({ code: "ERR_OUT_OF_RANGE" });
    expect(await failure(ctx.open("/tmp/x", "w", "9"))).toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
    expect(await failure(ctx.readFile("/tmp/x", { encoding: "klingon" as never }))).toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
    expect(await failure(ctx.writeFile("/tmp/x", 42 as never))).toMatchObject({ code: "ERR_INVALID_ARG_TYPE" });
    expect(await failure(ctx.writeFile("/tmp/x", "y", { flag: "nope" }))).toMatchObject({ code: "ERR_INVALID_ARG_VALUE" });
    expect(await failure(ctx.stat("/", { bigint: "yes" as never }))).toMatchObject({ code: "ERR_INVALID_ARG_TYPE" });
    expect(await failure(ctx.truncate(-1))).toMatchObject({ code: "ERR_OUT_OF_RANGE" });
    expect(await failure(ctx.allocate(0, 0, -5))).toMatchObject({ code: "ERR_OUT_OF_RANGE" });
    expect(ctx.stats.submitted).toBe(before);
  });

  it("options are read once: a getter runs one time per property", async () => {
    using dir = tempDir();
    await using ctx = open();
    writeFileSync(join(dir, "f"), "once");
    let reads = 0;
    const options = {
      get encoding() {
        reads++;
        return reads === 1 ? "utf8" : "hex";
      },
    };
    const text: unknown = await ctx.readFile(join(dir, "f"), options as unknown as BufferEncoding);
    expect(text).toBe("once");
    expect(reads).toBe(1);
  });

  it("path fuzz: very long names, directories, dangling symlinks", async () => {
    using dir = tempDir();
    await using ctx = open();
    const long = join(dir, "n".repeat(300));
    expect(await failure(ctx.readFile(long))).toMatchObject({ code: "ENAMETOOLONG", syscall: "open" });
    expect(await failure(ctx.writeFile(long, "x"))).toMatchObject({ code: "ENAMETOOLONG" });
    expect(await failure(ctx.stat(long))).toMatchObject({ code: "ENAMETOOLONG", syscall: "stat" });
    expect(await failure(ctx.readFile("/" + "d/".repeat(3000)))).toMatchObject({ code: "ENAMETOOLONG" });
    expect(await failure(ctx.readFile(String(dir)))).toMatchObject({ code: "EISDIR", syscall: "read" });
    expect(await failure(ctx.writeFile(String(dir), "x"))).toMatchObject({ code: "EISDIR", syscall: "open" });
    expect(await failure(ctx.unlink(String(dir)))).toMatchObject({ code: expect.stringMatching(/EISDIR|EPERM/), syscall: "unlink" });
    symlinkSync(join(dir, "nowhere"), join(dir, "dangling"));
    expect(await failure(ctx.readFile(join(dir, "dangling")))).toMatchObject({ code: "ENOENT", syscall: "open" });
    expect(await failure(ctx.stat(join(dir, "dangling")))).toMatchObject({ code: "ENOENT", syscall: "stat" });
    expect(await failure(ctx.readFile(""))).toMatchObject({ code: "ENOENT" });
    // Random bytes (no NUL) as Buffer paths under dir: each either works or fails with a node:fs-shaped error.
    for (let i = 0; i < 50; i++) {
      const name = Buffer.from(Array.from({ length: 1 + (i % 20) }, (_, j) => 1 + ((i * 31 + j * 7) % 255)).filter((b) => b !== 0x2f));
      const path = Buffer.concat([Buffer.from(String(dir) + "/"), name]);
      await ctx.writeFile(path, "fuzz").catch((error) => expect(error.code).toMatch(/^E[A-Z]+$/));
      await ctx.readFile(path).then(
        (bytes) => expect(bytes.toString()).toBe("fuzz"),
        (error) => expect(error.code).toMatch(/^E[A-Z]+$/),
      );
    }
  });

  it.skipIf(!isRoot() || !Bun.which("setpriv"))("permission denied (EACCES) as a non-root subprocess", async () => {
    using dir = tempDir();
    chmodSync(String(dir), 0o755);
    const secret = join(dir, "secret");
    writeFileSync(secret, "no");
    chmodSync(secret, 0o600);
    const script = join(dir, "eacces.ts");
    writeFileSync(
      script,
      `import { Context } from ${JSON.stringify(join(repoRoot, "src", "index.ts"))};
const ctx = new Context({ backend: ${JSON.stringify(name)} });
const error = await ctx.readFile(${JSON.stringify(secret)}).catch((e) => e);
const write = await ctx.writeFile(${JSON.stringify(join(dir, "new"))}, "x").catch((e) => e);
await ctx.close();
console.log(JSON.stringify([error.code, error.syscall, write.code]));`,
    );
    chmodSync(script, 0o644);
    const result = await runBun(script, { CAIO_NATIVE: name === "js" ? "none" : undefined }, ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
    expect({ exitCode: result.exitCode, out: result.stdout.trim() }).toEqual({ exitCode: 0, out: JSON.stringify(["EACCES", "open", "EACCES"]) });
  });
});
