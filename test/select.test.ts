/**
 * Backend selection: CAIO_IMPL, the default_implementation file, their precedence,
 * bad values, and falling back when the kernel refuses io_uring. Each case runs in
 * a fresh process over a copy of the package, because the choice is made once per process.
 */
import { describe, expect, test } from "bun:test";
import { copyFileSync, cpSync, existsSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readFileSetting, type FileSetting } from "../src/select.ts";
import { availableBackends, isRoot, repoRoot, runBun, tempDir } from "./helpers.ts";

const best = availableBackends[0];

/** Creates three contexts (the choice and any warning must happen once) and prints what it got. */
const PROBE = `
import { Context, availableBackends } from "./src/index.ts";
const chosen = [];
for (let i = 0; i < 3; i++) {
  const ctx = new Context({ maxRequests: 4 });
  chosen.push(ctx.backend);
  await ctx.close();
}
let explicit;
try {
  const ctx = new Context({ backend: process.env.PROBE_EXPLICIT ?? "linux" });
  explicit = { backend: ctx.backend };
  await ctx.close();
} catch (error) {
  explicit = { code: error.code, errno: error.errno, syscall: error.syscall, message: error.message };
}
console.log(JSON.stringify({ chosen, explicit, available: availableBackends() }));
`;

interface ProbeResult {
  chosen: string[];
  explicit: { backend?: string; code?: string; errno?: number; syscall?: string; message?: string };
  available: { name: string; available: boolean; reason?: string }[];
  warnings: string[];
  exitCode: number | null;
}

/** Runs PROBE against a private copy of the package holding `fileText` as its default_implementation. */
async function probe(env: Record<string, string>, fileText?: string): Promise<ProbeResult> {
  using dir = tempDir();
  cpSync(join(repoRoot, "src"), join(dir, "src"), { recursive: true });
  copyFileSync(join(repoRoot, "package.json"), join(dir, "package.json"));
  for (const shipped of ["c", "prebuilt"]) symlinkSync(join(repoRoot, shipped), join(dir, shipped));
  if (fileText !== undefined) writeFileSync(join(dir, "default_implementation"), fileText);
  writeFileSync(join(dir, "probe.ts"), PROBE);
  const result = await runBun(join(dir, "probe.ts"), { CAIO_IMPL: undefined, ...env });
  const warnings = result.stderr.split("\n").filter((line) => line.includes("CaioWarning"));
  if (result.exitCode !== 0) throw new Error(`probe failed (${result.exitCode}): ${result.stderr}`);
  return { ...JSON.parse(result.stdout), warnings, exitCode: result.exitCode };
}

/** caio's (Python) own test file: a comment, a line naming nothing, then the backend. */
const PYTHON_CAIO_FILE = (name: string) => `# NEWER COMMIT THIS FILE\nwrong string\n${name}\n`;

describe("default_implementation file format", () => {
  test.each<[string, FileSetting]>([
    ["linux\n", { name: "linux", skipped: [] }],
    ["# packaged for a sandbox\n\n   \n  js  \nuring\n", { name: "js", skipped: [] }],
    ["#uring\r\n\r\nthread\r\n", { name: "thread", skipped: [] }],
    [PYTHON_CAIO_FILE("linux"), { name: "linux", skipped: ["wrong string"] }],
    ["posix\n python \n#js\nuring\nnonsense\n", { name: "uring", skipped: ["posix", "python"] }],
    ["Uring\n", { skipped: ["Uring"] }],
    ["# only comments\n\n", { skipped: [] }],
    ["", { skipped: [] }],
  ])("%j reads as %j", (text, expected) => {
    expect(readFileSetting(text)).toEqual(expected);
  });

  test("the shipped file only has comments, so automatic selection applies", () => {
    const shipped = join(repoRoot, "default_implementation");
    expect(existsSync(shipped)).toBe(true);
    expect(readFileSetting(readFileSync(shipped, "utf8"))).toEqual({ skipped: [] });
  });
});

describe("backend selection", () => {
  test.skipIf(!best)("with nothing configured, the first backend that initialises is used", async () => {
    const result = await probe({});
    expect(result.chosen).toEqual([best!, best!, best!]);
    expect(result.warnings).toEqual([]);
    expect(result.available.filter((b) => b.available).map((b) => b.name)).toEqual(availableBackends);
  });

  test.skipIf(!availableBackends.includes("linux"))("CAIO_IMPL forces a backend", async () => {
    const result = await probe({ CAIO_IMPL: "linux" });
    expect(result.chosen).toEqual(["linux", "linux", "linux"]);
    expect(result.warnings).toEqual([]);
  });

  test.skipIf(!availableBackends.includes("linux"))(
    "the default_implementation file's first line naming a backend picks it",
    async () => {
      const result = await probe({}, "# distro default\n\n  linux\nuring\n");
      expect(result.chosen).toEqual(["linux", "linux", "linux"]);
      expect(result.warnings).toEqual([]);
    },
  );

  test.skipIf(!availableBackends.includes("linux"))(
    "Python caio's file (a comment, \"wrong string\", then the name) selects that backend with one warning naming the skipped line",
    async () => {
      const result = await probe({}, PYTHON_CAIO_FILE("linux"));
      expect(result.chosen).toEqual(["linux", "linux", "linux"]);
      expect(result.warnings).toHaveLength(1);
      expect(result.warnings[0]).toContain('"wrong string"');
      expect(result.warnings[0]).toContain('using "linux"');
    },
  );

  test.skipIf(!availableBackends.includes("uring") || !availableBackends.includes("linux"))(
    "CAIO_IMPL wins over the file, and an explicit { backend } wins over both",
    async () => {
      const result = await probe({ CAIO_IMPL: "uring", PROBE_EXPLICIT: "linux" }, PYTHON_CAIO_FILE("linux"));
      expect(result.chosen).toEqual(["uring", "uring", "uring"]);
      expect(result.explicit).toEqual({ backend: "linux" });
      // The file is not even read when CAIO_IMPL decides, so its stray line draws no warning.
      expect(result.warnings).toEqual([]);
    },
  );

  test.skipIf(!best)("an unknown CAIO_IMPL warns once, naming the allowed values, then selects automatically", async () => {
    const result = await probe({ CAIO_IMPL: "io_uring" });
    expect(result.chosen).toEqual([best!, best!, best!]);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toContain('CAIO_IMPL names "io_uring"');
    expect(result.warnings[0]).toContain("uring, linux, thread, js");
  });

  test.skipIf(!best)("an unknown name in the file warns once, naming the file", async () => {
    const result = await probe({}, "# comment\nposix\n");
    expect(result.chosen).toEqual([best!, best!, best!]);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toContain("default_implementation");
    expect(result.warnings[0]).toContain('"posix"');
  });
});

const IO_URING_DISABLED = "/proc/sys/kernel/io_uring_disabled";
const canDisableUring = isRoot() && existsSync(IO_URING_DISABLED) && availableBackends.includes("uring");
if (!canDisableUring) {
  console.log("[skip] io_uring disabled by sysctl: needs root, kernel.io_uring_disabled (6.6+) and a working uring backend");
}

describe("io_uring refused by the kernel", () => {
  test.skipIf(!canDisableUring)(
    "kernel.io_uring_disabled=2: automatic selection and CAIO_IMPL=uring fall back to linux with the reason",
    async () => {
      const original = readFileSync(IO_URING_DISABLED, "utf8").trim();
      let forced: ProbeResult;
      let auto: ProbeResult;
      try {
        writeFileSync(IO_URING_DISABLED, "2");
        auto = await probe({ PROBE_EXPLICIT: "uring" });
        forced = await probe({ CAIO_IMPL: "uring" });
      } finally {
        writeFileSync(IO_URING_DISABLED, original);
      }
      expect(readFileSync(IO_URING_DISABLED, "utf8").trim()).toBe(original);

      expect(auto.chosen).toEqual(["linux", "linux", "linux"]);
      expect(auto.warnings).toEqual([]);
      const uring = auto.available.find((b) => b.name === "uring")!;
      expect(uring.available).toBe(false);
      expect(uring.reason).toContain("kernel.io_uring_disabled is 2");
      // Asking for it explicitly is an error naming the backend and the refusal.
      expect(auto.explicit).toMatchObject({ code: "EPERM", errno: -1, syscall: "io_uring_setup" });
      expect(auto.explicit.message).toContain('the "uring" backend is unavailable');

      expect(forced.chosen).toEqual(["linux", "linux", "linux"]);
      expect(forced.warnings).toHaveLength(1);
      expect(forced.warnings[0]).toContain('CAIO_IMPL asks for "uring"');
      expect(forced.warnings[0]).toContain("io_uring_disabled");
    },
  );
});
