/** The shared suite for file operations (issue 16): every function, on every backend that has them. */
import { describe, expect, test } from "bun:test";
import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, statSync, symlinkSync, Stats, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Context, type BackendName } from "../src/index.ts";
import { backends, openDescriptors, recordBytes, repoRoot, reportSkip, runBun, tempDir } from "./helpers.ts";

const STAT_FIELDS = ["dev", "ino", "mode", "nlink", "uid", "gid", "rdev", "size", "blksize", "blocks", "atimeMs", "mtimeMs", "ctimeMs", "birthtimeMs"] as const;

function statShape(stats: Stats | import("node:fs").BigIntStats) {
  const shape: Record<string, unknown> = {};
  for (const field of STAT_FIELDS) shape[field] = stats[field];
  for (const name of ["atime", "mtime", "ctime", "birthtime"] as const) shape[name] = stats[name].getTime();
  if ("atimeNs" in stats) for (const name of ["atimeNs", "mtimeNs", "ctimeNs", "birthtimeNs"] as const) shape[name] = stats[name];
  for (const is of ["isFile", "isDirectory", "isSymbolicLink", "isFIFO", "isSocket", "isBlockDevice", "isCharacterDevice"] as const) {
    shape[is] = stats[is]();
  }
  return shape;
}

describe.each(backends.map((b) => [b.name, b] as const))("%s backend: files", (name, backend) => {
  reportSkip(backend);
  const it = test.skipIf(!backend.available);
  const open = (maxRequests?: number) => new Context({ backend: name as BackendName, maxRequests });

  it("open → write/read through the descriptor → closeFd; flags as strings or numbers, mode applied", async () => {
    using dir = tempDir();
    await using ctx = open();
    const path = join(dir, "f");
    const fd = await ctx.open(path, "w+", 0o640);
    expect(await ctx.write("hello", fd, 0)).toBe(5);
    expect((await ctx.read(16, fd, 0)).toString()).toBe("hello");
    expect(fstatSync(fd).mode & 0o777).toBe(0o640 & ~process.umask());
    await ctx.closeFd(fd);
    expect(() => fstatSync(fd)).toThrow();
    const ro = await ctx.open(path); // default "r"
    expect((await ctx.read(16, ro, 0)).toString()).toBe("hello");
    await ctx.closeFd(ro);
    const byNumber = await ctx.open(Buffer.from(path), 2 /* O_RDWR */);
    await ctx.closeFd(byNumber);
    const byUrl = await ctx.open(pathToFileURL(path));
    await ctx.closeFd(byUrl);
  });

  it("relative paths resolve against process.cwd() at the call", async () => {
    using dir = tempDir();
    await using ctx = open();
    writeFileSync(join(dir, "rel.txt"), "relative");
    const before = process.cwd();
    process.chdir(String(dir));
    let pending: Promise<string>;
    try {
      pending = ctx.readFile("rel.txt", "utf8");
    } finally {
      process.chdir(before); // changed back before the operation runs
    }
    expect(await pending).toBe("relative");
  });

  it("readFile: empty, 1 byte, exactly one chunk, 10 MiB — exact bytes as Buffers or strings", async () => {
    using dir = tempDir();
    await using ctx = open();
    const big = recordBytes((10 * 1024 * 1024) / 16);
    const cases: [string, Buffer][] = [
      ["empty", Buffer.alloc(0)],
      ["one", Buffer.from("x")],
      ["chunk", recordBytes(4096)],
      ["big", big],
    ];
    for (const [file, bytes] of cases) writeFileSync(join(dir, file), bytes);
    const read = await Promise.all(cases.map(([file]) => ctx.readFile(join(dir, file))));
    for (let i = 0; i < cases.length; i++) {
      expect(Buffer.isBuffer(read[i])).toBe(true);
      expect(read[i]!.length).toBe(cases[i]![1].length);
      expect(read[i]!.equals(cases[i]![1])).toBe(true);
    }
    expect(await ctx.readFile(join(dir, "one"), { encoding: "hex" })).toBe("78");
  });

  it("readFile of a file that grows while it is read returns whole records, at least what was there at the call", async () => {
    using dir = tempDir();
    await using ctx = open();
    const path = join(dir, "growing");
    writeFileSync(path, recordBytes(1000));
    let appended = 1000;
    const grower = setInterval(() => appendFileSync(path, recordBytes(1000).subarray(0, 16 * 100)), 1);
    try {
      for (let round = 0; round < 5; round++) {
        const atCall = statSync(path).size;
        const got = await ctx.readFile(path);
        expect(got.length).toBeGreaterThanOrEqual(atCall);
        expect(got.equals(readFileSync(path).subarray(0, got.length))).toBe(true);
      }
    } finally {
      clearInterval(grower);
    }
    void appended;
  });

  it("readFile of /proc files (stat size 0) reads to end of file", async () => {
    await using ctx = open();
    const status = await ctx.readFile("/proc/self/status", "utf8");
    expect(status).toContain("Name:");
    expect(status).toContain("VmRSS:");
    const maps = await ctx.readFile("/proc/self/maps");
    expect(maps.length).toBeGreaterThan(0);
  });

  it("writeFile + readFile round trip with every flag, and appendFile", async () => {
    using dir = tempDir();
    await using ctx = open();
    const results: Record<string, string> = {};
    for (const flag of ["w", "wx", "xw", "w+", "wx+", "xw+", "a", "ax", "xa", "as", "sa", "a+", "ax+", "xa+", "as+", "sa+"]) {
      const path = join(dir, `f-${flag}`);
      await ctx.writeFile(path, `one:${flag}`, { flag });
      await ctx.writeFile(path, "|two", { flag: flag.includes("x") ? flag.replace("x", "") : flag });
      results[flag] = await ctx.readFile(path, { encoding: "utf8", flag: "r" });
    }
    for (const [flag, text] of Object.entries(results)) {
      expect([flag, text]).toEqual([flag, flag.includes("a") ? `one:${flag}|two` : "|two"]);
    }
    const path = join(dir, "rplus");
    writeFileSync(path, "abcdef");
    await ctx.writeFile(path, "XY", { flag: "r+" });
    expect(await ctx.readFile(path, { encoding: "utf8", flag: "rs+" })).toBe("XYcdef");
    await ctx.appendFile(path, new Uint16Array([0x4241]));
    await ctx.appendFile(path, new Uint8Array([0x43]).buffer, { sync: true, mode: 0o600 });
    expect(readFileSync(path, "latin1")).toBe("XYcdefABC");
    await ctx.writeFile(path, "é", { encoding: "latin1", sync: true });
    expect(readFileSync(path)).toEqual(Buffer.from([0xe9]));
    // "w" opens without O_TRUNC and cuts the file after writing: a device has nothing to cut.
    await ctx.writeFile("/dev/null", "discarded");
  });

  it("writeFile of 10 MiB from a Buffer and an empty write both land exactly", async () => {
    using dir = tempDir();
    await using ctx = open();
    const big = recordBytes(655360);
    await Promise.all([ctx.writeFile(join(dir, "big"), big), ctx.writeFile(join(dir, "empty"), "")]);
    expect(readFileSync(join(dir, "big")).equals(big)).toBe(true);
    expect(statSync(join(dir, "empty")).size).toBe(0);
  });

  it("stat of a path, a directory, a descriptor and a symlink's target matches statSync field by field (and bigint)", async () => {
    using dir = tempDir();
    await using ctx = open();
    const path = join(dir, "f");
    writeFileSync(path, "12345");
    symlinkSync(path, join(dir, "link"));
    const fd = openSync(path, "r");
    try {
      const [file, folder, byFd, link, big] = await Promise.all([
        ctx.stat(path),
        ctx.stat(String(dir)),
        ctx.stat(fd),
        ctx.stat(join(dir, "link")),
        ctx.stat(path, { bigint: true }),
      ]);
      expect(file).toBeInstanceOf(Stats);
      expect(statShape(file)).toEqual(statShape(statSync(path)));
      expect(statShape(folder)).toEqual(statShape(statSync(String(dir))));
      expect(statShape(byFd)).toEqual(statShape(fstatSync(fd)));
      expect(statShape(link)).toEqual(statShape(statSync(path)));
      expect(statShape(big)).toEqual(statShape(statSync(path, { bigint: true })));
      expect(statShape(await ctx.stat("/dev/null"))).toEqual(statShape(statSync("/dev/null")));
    } finally {
      closeSync(fd);
    }
  });

  it("truncate and allocate change the size; allocate with keepSize does not", async () => {
    using dir = tempDir();
    await using ctx = open();
    const path = join(dir, "f");
    writeFileSync(path, "0123456789");
    const fd = await ctx.open(path, "r+");
    await ctx.truncate(fd, 4);
    expect(statSync(path).size).toBe(4);
    await ctx.allocate(fd, 0, 8192);
    expect(statSync(path).size).toBe(8192);
    await ctx.allocate(fd, 8192, 4096, { keepSize: true });
    expect(statSync(path).size).toBe(8192);
    await ctx.truncate(fd);
    expect(statSync(path).size).toBe(0);
    await ctx.closeFd(fd);
  });

  it("unlink, rename and mkdir (plain and recursive, returning the first directory created)", async () => {
    using dir = tempDir();
    await using ctx = open();
    writeFileSync(join(dir, "a"), "A");
    await ctx.rename(join(dir, "a"), join(dir, "b"));
    expect(readFileSync(join(dir, "b"), "utf8")).toBe("A");
    await ctx.unlink(join(dir, "b"));
    expect(existsSync(join(dir, "b"))).toBe(false);
    expect(await ctx.mkdir(join(dir, "d"), { mode: 0o700 })).toBeUndefined();
    expect(statSync(join(dir, "d")).mode & 0o777).toBe(0o700 & ~process.umask());
    expect(await ctx.mkdir(join(dir, "x", "y", "z"), { recursive: true })).toBe(join(dir, "x"));
    expect(statSync(join(dir, "x", "y", "z")).isDirectory()).toBe(true);
    expect(await ctx.mkdir(join(dir, "x", "y"), { recursive: true })).toBeUndefined();
    expect(await ctx.mkdir(join(dir, "x", "y", "z2/"), { recursive: true })).toBe(join(dir, "x", "y", "z2"));
  });

  it("FIFOs: open and readFile read what a writer sends, to its EOF", async () => {
    if (name !== "thread" && name !== "js") return; // the blocking open of a FIFO is for pool backends
    using dir = tempDir();
    await using ctx = open();
    const fifo = join(dir, "fifo");
    Bun.spawnSync(["mkfifo", fifo]);
    const writer = Bun.spawn(["sh", "-c", `printf 'through the fifo' > ${fifo}`]);
    expect(await ctx.readFile(fifo, "utf8")).toBe("through the fifo");
    await writer.exited;
  });

  it("closeFd waits for the reads in flight on fd; a file then opened gets the number, the reads saw the old file", async () => {
    using dir = tempDir();
    await using ctx = open();
    writeFileSync(join(dir, "old"), recordBytes(64));
    writeFileSync(join(dir, "new"), Buffer.alloc(64 * 16, "N"));
    const fd = openSync(join(dir, "old"), "r");
    const order: string[] = [];
    const reads = Array.from({ length: 64 }, (_, i) => ctx.read(16, fd, i * 16).then((bytes) => (order.push("read"), bytes)));
    const closed = ctx.closeFd(fd).then(() => order.push("closed"));
    await closed;
    const reopened = await ctx.open(join(dir, "new"));
    const bytes = await Promise.all(reads);
    expect(reopened).toBe(fd);
    expect(order.indexOf("closed")).toBe(64);
    expect(Buffer.concat(bytes).equals(recordBytes(64))).toBe(true);
    await ctx.closeFd(reopened);
  });

  it("an open aborted while in flight closes the descriptor it got anyway; readFile closes on abort", async () => {
    using dir = tempDir();
    writeFileSync(join(dir, "f"), "data");
    const before = openDescriptors();
    {
      await using ctx = open();
      const attempts: Promise<unknown>[] = [];
      for (let i = 0; i < 32; i++) {
        const controller = new AbortController();
        attempts.push(ctx.readFile(join(dir, "f"), { signal: controller.signal }).catch((error) => error));
        for (let hop = 0; hop < i % 4; hop++) await null;
        controller.abort();
      }
      const outcomes = await Promise.all(attempts);
      for (const outcome of outcomes) expect(outcome instanceof Error ? (outcome as Error).name : "read").toMatch(/AbortError|read/);
    }
    expect(openDescriptors()).toEqual(before);
  });

  it("64 readFile calls of small files issued in one tick: one operation each (open, read, close), all in one submit call", async () => {
    using dir = tempDir();
    for (let i = 0; i < 64; i++) writeFileSync(join(dir, `f${i}`), `file ${i}`);
    await using ctx = open(128);
    const before = ctx.stats.submitCalls;
    const all = Array.from({ length: 64 }, (_, i) => ctx.readFile(join(dir, `f${i}`), "utf8"));
    await null; // after this tick's flush
    expect({ submitted: ctx.stats.submitted, calls: ctx.stats.submitCalls - before }).toEqual({ submitted: 64, calls: 1 });
    expect(await Promise.all(all)).toEqual(Array.from({ length: 64 }, (_, i) => `file ${i}`));
    expect(ctx.stats.submitted).toBe(64);
  });

  it("64 writeFile calls of small data issued in one tick: one operation each, all in one submit call; sync and append too", async () => {
    using dir = tempDir();
    for (let i = 0; i < 64; i++) writeFileSync(join(dir, `w${i}`), "an older, longer content to be cut");
    await using ctx = open(128);
    const before = ctx.stats.submitCalls;
    const all = Array.from({ length: 64 }, (_, i) => ctx.writeFile(join(dir, `w${i}`), `new ${i}`, { sync: i % 2 === 0 }));
    await null; // after this tick's flush
    expect({ submitted: ctx.stats.submitted, calls: ctx.stats.submitCalls - before }).toEqual({ submitted: 64, calls: 1 });
    await Promise.all(all);
    for (let i = 0; i < 64; i++) expect(readFileSync(join(dir, `w${i}`), "utf8")).toBe(`new ${i}`);
    await ctx.appendFile(join(dir, "w0"), "+more");
    expect(readFileSync(join(dir, "w0"), "utf8")).toBe("new 0+more");
    const big = Buffer.alloc(200_000, 0x61);
    await ctx.writeFile(join(dir, "w1"), big);
    expect(Buffer.compare(readFileSync(join(dir, "w1")), big)).toBe(0);
  });

  it("writeFile failures name their step: an existing file with 'wx' is EEXIST from open, a directory EISDIR", async () => {
    using dir = tempDir();
    mkdirSync(join(dir, "directory"));
    writeFileSync(join(dir, "exists"), "x");
    await using ctx = open();
    const exclusive = await ctx.writeFile(join(dir, "exists"), "y", { flag: "wx" }).catch((error) => error);
    expect({ code: exclusive.code, syscall: exclusive.syscall, path: exclusive.path }).toEqual({ code: "EEXIST", syscall: "open", path: join(dir, "exists") });
    const directory = await ctx.writeFile(join(dir, "directory"), "y").catch((error) => error);
    expect({ code: directory.code, syscall: directory.syscall }).toEqual({ code: "EISDIR", syscall: "open" });
    expect(readFileSync(join(dir, "exists"), "utf8")).toBe("x");
  });

  it("readFile of files larger than one block (64 KiB) and at its edges: exact bytes, read on in steps", async () => {
    using dir = tempDir();
    const sizes = [65_536 - 200, 65_536 - 100, 65_535, 65_536, 65_537, 200_000, 1 << 20];
    const contents = sizes.map((size, i) => Buffer.from(Array.from({ length: size }, (_, at) => (at * 7 + i) & 0xff)));
    contents.forEach((bytes, i) => writeFileSync(join(dir, `s${i}`), bytes));
    await using ctx = open(128);
    const read = await Promise.all(sizes.map((_, i) => ctx.readFile(join(dir, `s${i}`))));
    read.forEach((bytes, i) => expect({ i, equal: Buffer.compare(bytes as Buffer, contents[i]!) }).toEqual({ i, equal: 0 }));
    const text = await ctx.readFile(join(dir, "s6"), "latin1");
    expect(text).toBe(contents[6]!.toString("latin1"));
  });

  it("readFile failures name their step: a directory is EISDIR from read, a missing file ENOENT from open", async () => {
    using dir = tempDir();
    mkdirSync(join(dir, "directory"));
    await using ctx = open();
    const directory = await ctx.readFile(join(dir, "directory")).catch((error) => error);
    expect({ code: directory.code, syscall: directory.syscall }).toEqual({ code: "EISDIR", syscall: "read" });
    const missing = await ctx.readFile(join(dir, "none")).catch((error) => error);
    expect({ code: missing.code, syscall: missing.syscall, path: missing.path }).toEqual({ code: "ENOENT", syscall: "open", path: join(dir, "none") });
  });

  it(`10,000 concurrent readFile calls under ulimit -n 256 all succeed (subprocess)`, async () => {
    using dir = tempDir();
    for (let i = 0; i < 1000; i++) writeFileSync(join(dir, `f${i}`), `file ${i}`);
    const script = join(dir, "emfile.ts");
    writeFileSync(
      script,
      `import { Context } from ${JSON.stringify(join(repoRoot, "src", "index.ts"))};
const ctx = new Context({ backend: ${JSON.stringify(name)}, maxRequests: 1024 });
const all = await Promise.all(Array.from({ length: 10000 }, (_, i) => ctx.readFile(${JSON.stringify(dir)} + "/f" + (i % 1000), "utf8")));
const wrong = all.filter((text, i) => text !== "file " + (i % 1000)).length;
await ctx.close();
console.log(JSON.stringify({ wrong, count: all.length }));`,
    );
    const result = await runBun(script, {}, ["sh", "-c", 'ulimit -n 256 && exec "$0" "$1"']);
    expect({ exitCode: result.exitCode, stderr: result.stderr.slice(0, 500), out: result.stdout.trim() }).toEqual({
      exitCode: 0,
      stderr: "",
      out: JSON.stringify({ wrong: 0, count: 10000 }),
    });
  });

  it("EMFILE with nothing of caio's in flight reaches the caller (subprocess)", async () => {
    using dir = tempDir();
    writeFileSync(join(dir, "f"), "x");
    const script = join(dir, "limit.ts");
    writeFileSync(
      script,
      `import { Context } from ${JSON.stringify(join(repoRoot, "src", "index.ts"))};
import { openSync } from "node:fs";
const ctx = new Context({ backend: ${JSON.stringify(name)} });
const held = [];
try { for (;;) held.push(openSync(${JSON.stringify(join(dir, "f"))}, "r")); } catch {}
const error = await ctx.open(${JSON.stringify(join(dir, "f"))}).catch((e) => e);
await ctx.close();
console.log(error.code);`,
    );
    const result = await runBun(script, {}, ["sh", "-c", 'ulimit -n 128 && exec "$0" "$1"']);
    expect({ exitCode: result.exitCode, out: result.stdout.trim() }).toEqual({ exitCode: 0, out: "EMFILE" });
  });
});

test("the top-level functions share defaultContext(), and an idle one lets the process exit (subprocess)", async () => {
  using dir = tempDir();
  const script = join(dir, "top.ts");
  writeFileSync(
    script,
    `import { appendFile, defaultContext, mkdir, readFile, rename, stat, unlink, writeFile } from ${JSON.stringify(join(repoRoot, "src", "index.ts"))};
const dir = ${JSON.stringify(dir)};
await mkdir(dir + "/sub/deeper", { recursive: true });
await writeFile(dir + "/sub/a", "top");
await appendFile(dir + "/sub/a", "-level");
await rename(dir + "/sub/a", dir + "/sub/b");
const text = await readFile(dir + "/sub/b", "utf8");
const size = (await stat(dir + "/sub/b")).size;
await unlink(dir + "/sub/b");
console.log(JSON.stringify({ text, size, same: defaultContext() === defaultContext() }));`,
  );
  const result = await runBun(script);
  expect({ exitCode: result.exitCode, stderr: result.stderr, out: result.stdout.trim() }).toEqual({
    exitCode: 0,
    stderr: "",
    out: JSON.stringify({ text: "top-level", size: 9, same: true }),
  });
});

void mkdirSync;
void readSync;
