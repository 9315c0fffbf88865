/**
 * `caio doctor` as a user runs it: a fresh `bun bin/caio.ts doctor` process per case,
 * with the short measurement (--quick) or none, checked through its --json output and
 * exit status. Root-only cases (io_uring switched off by sysctl, a fresh tmpfs) restore
 * what they change in `finally` and print why when skipped.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BACKEND_NAMES } from "../src/backends/index.ts";
import type { DoctorReport } from "../src/doctor/report.ts";
import { availableBackends, backends, isRoot, repoRoot, tempDir } from "./helpers.ts";

const CAIO = join(repoRoot, "bin", "caio.ts");
const nativeWorks = availableBackends.some((name) => name !== "js");

async function doctor(args: string[], env: Record<string, string | undefined> = {}) {
  const child = Bun.spawn([process.execPath, CAIO, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 20_000,
    env: { ...process.env, CAIO_IMPL: undefined, CAIO_NATIVE: undefined, ...env },
  });
  const [exitCode, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { exitCode, stdout, stderr };
}

async function doctorJson(args: string[], env: Record<string, string | undefined> = {}): Promise<DoctorReport & { status: number }> {
  const result = await doctor(["doctor", "--json", ...args], env);
  if (result.stderr.includes("error")) throw new Error(`caio doctor failed (${result.exitCode}):\n${result.stderr}`);
  return { ...(JSON.parse(result.stdout) as DoctorReport), status: result.exitCode };
}

const text = expect.any(String);
const whole = expect.any(Number);
/** null or a value of `type`: the sysctls and limits the kernel may not have, a container that may not be there. */
function nullOr(value: unknown, type: string): boolean {
  return value === null || typeof value === type;
}

describe("caio doctor --json", () => {
  test("has the documented shape, lists every backend as this machine sees it, measures, cleans up, exits 0 with a native backend", async () => {
    using scratchDir = tempDir();
    const dir = `${scratchDir}`;
    const report = await doctorJson(["--quick", dir]);
    const { settings, limits, system } = report;
    const nullable = [
      nullOr(system.container, "object"),
      nullOr(settings["kernel.io_uring_disabled"], "string"),
      nullOr(settings["kernel.io_uring_group"], "string"),
      ...[limits.memlock, limits.nofile].flatMap(({ soft, hard }) => [nullOr(soft, "number"), nullOr(hard, "number")]),
    ];
    expect(nullable).toEqual(nullable.map(() => true));
    expect(report as unknown).toEqual({
      status: nativeWorks ? 0 : 1,
      schema: 1,
      caio: JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).version,
      system: { bun: Bun.version, kernel: text, kernelBuild: text, arch: process.arch, libc: text, container: system.container, seccomp: text },
      settings: {
        "kernel.io_uring_disabled": settings["kernel.io_uring_disabled"],
        "kernel.io_uring_group": settings["kernel.io_uring_group"],
        "fs.aio-nr": text,
        "fs.aio-max-nr": text,
      },
      limits: {
        memlock: { soft: limits.memlock.soft, hard: limits.memlock.hard },
        nofile: { soft: limits.nofile.soft, hard: limits.nofile.hard },
      },
      native: expect.objectContaining({ path: text, why: text }),
      backends: backends.map(({ name, available }) => expect.objectContaining({ name, available, fixes: expect.any(Array) })),
      selected: availableBackends[0],
      fs: expect.objectContaining({ dir, type: text, magic: expect.stringMatching(/^0x[0-9a-f]+$/), blockSize: whole, direct: { supported: expect.any(Boolean), detail: text } }),
      measurement: expect.objectContaining({ fileBytes: 16 << 20, blockSize: 4096, inFlight: 64, durationMs: 50, skipped: null }),
      exitCode: nativeWorks ? 0 : 1,
    });
    expect(report.backends.map((b) => b.name)).toEqual([...BACKEND_NAMES]);
    const workloads = report.fs.direct.supported ? ["cached", "direct"] : ["cached"];
    const measured = report.measurement.results.map((r) => `${r.backend} ${r.workload} ${r.iops! > 0}`);
    expect(measured.sort()).toEqual(workloads.flatMap((w) => availableBackends.map((name) => `${name} ${w} true`)).sort());
    expect(report.measurement.recommended).toMatchObject({ backend: expect.any(String), pin: { env: `CAIO_IMPL=${report.measurement.recommended!.backend}` } });
    expect(readdirSync(dir)).toEqual([]);
  });

  test("a directory it cannot write to is still examined; the O_DIRECT probe and the measurement say why they did not run", async () => {
    const report = await doctorJson(["--quick", "/proc"]);
    expect(report.fs).toMatchObject({ dir: "/proc", type: "proc", logicalBlockSize: null, direct: { supported: false } });
    expect(report.fs.direct.detail).toContain("cannot create a file in /proc");
    expect(report.measurement).toMatchObject({ results: [], recommended: null, skipped: expect.stringContaining("cannot create a file") });
  });

  test.skipIf(!nativeWorks)("with only the js backend (CAIO_NATIVE=none) it exits 1 and says how to get the native ones back", async () => {
    using dir = tempDir();
    const report = await doctorJson(["--no-measure", dir], { CAIO_NATIVE: "none" });
    expect(report.status).toBe(1);
    expect(report.native).toMatchObject({ path: "none", mode: "none" });
    expect(report.backends.filter((b) => b.available).map((b) => b.name)).toEqual(["js"]);
    expect(report.backends[0]!.fixes.join("\n")).toContain("unset CAIO_NATIVE (now none)");
  });
});

describe("caio doctor as text", () => {
  test("prints every section, the fastest backend and the line that pins it", async () => {
    using dir = tempDir();
    const result = await doctor(["doctor", "--quick", dir]);
    expect(result.exitCode).toBe(nativeWorks ? 0 : 1);
    for (const heading of ["doctor", "Native library", "Kernel settings and limits", "Backends", `File system of ${dir}`, "Measurement"]) {
      expect(result.stdout).toContain(heading);
    }
    expect(result.stdout).toMatch(/pin it: CAIO_IMPL=(uring|linux|thread|js), or the line "\w+" in .*default_implementation/);
  });
});

const IO_URING_DISABLED = "/proc/sys/kernel/io_uring_disabled";
const canDisableUring = isRoot() && existsSync(IO_URING_DISABLED) && availableBackends.includes("uring");
if (!canDisableUring) console.log("[skip] doctor with io_uring disabled: needs root, kernel.io_uring_disabled (6.6+) and a working uring backend");

describe("caio doctor explains a refused backend", () => {
  test.skipIf(!canDisableUring)("kernel.io_uring_disabled=2: uring is unavailable, with the reason and the sysctl to change at its current value", async () => {
    const original = readFileSync(IO_URING_DISABLED, "utf8").trim();
    let report: Awaited<ReturnType<typeof doctorJson>>;
    try {
      writeFileSync(IO_URING_DISABLED, "2");
      report = await doctorJson(["--no-measure", repoRoot]);
    } finally {
      writeFileSync(IO_URING_DISABLED, original);
    }
    expect(readFileSync(IO_URING_DISABLED, "utf8").trim()).toBe(original);
    const uring = report.backends.find((b) => b.name === "uring")!;
    expect(uring).toMatchObject({ available: false, code: "EPERM" });
    expect(uring.reason).toContain("kernel.io_uring_disabled is 2");
    expect(uring.fixes.join("\n")).toContain("sysctl -w kernel.io_uring_disabled=0 (now 2");
    expect(report.settings["kernel.io_uring_disabled"]).toBe("2");
    expect(report.selected).not.toBe("uring");
    expect(report.status).toBe(0);
  });
});

const TMPFS_MAGIC = 0x01021994;

/** A fresh tmpfs mounted in a temp dir (root), else /dev/shm when it is tmpfs; undefined when neither. */
async function withTmpfs<T>(use: (dir: string) => Promise<T>): Promise<T | undefined> {
  if (isRoot()) {
    using parent = tempDir();
    const mountPoint = join(parent, "tmpfs");
    mkdirSync(mountPoint);
    const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64m", "caio-doctor-test", mountPoint]);
    if (mounted.exitCode === 0) {
      try {
        return await use(mountPoint);
      } finally {
        Bun.spawnSync(["umount", mountPoint]);
      }
    }
  }
  if (!existsSync("/dev/shm") || statfsSync("/dev/shm").type !== TMPFS_MAGIC) return undefined;
  const dir = mkdtempSync(join("/dev/shm", "caio-doctor-test-"));
  try {
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("caio doctor on tmpfs", () => {
  test("reports tmpfs and O_DIRECT unsupported (page-cache I/O even where the kernel accepts the flag), measures cached reads only, leaves no file", async () => {
    const report = await withTmpfs(async (dir) => {
      const before = readdirSync(dir);
      const found = await doctorJson(["--quick", dir]);
      expect(readdirSync(dir)).toEqual(before);
      return found;
    });
    if (!report) return console.log("[skip] doctor on tmpfs: cannot mount one (not root) and /dev/shm is not tmpfs");
    expect(report.fs).toMatchObject({ type: "tmpfs", logicalBlockSize: null, direct: { supported: false } });
    expect(report.fs.direct.detail).toContain("tmpfs");
    expect(new Set(report.measurement.results.map((r) => r.workload))).toEqual(new Set(["cached"]));
  });
});

const scratch = tempDir();
afterAll(() => scratch[Symbol.dispose]());

describe("caio doctor refuses bad arguments with exit status 2", () => {
  const file = join(scratch, "file");
  writeFileSync(file, "");
  test.each([
    [["doctor", "--bogus"], 'unknown option "--bogus"'],
    [["doctor", join(scratch, "missing")], "ENOENT"],
    [["doctor", file], "is not a directory"],
    [["doctor", scratch, scratch], "one directory at most"],
    [["doctor", "--duration=0"], "--duration needs whole milliseconds"],
    [["frobnicate"], 'unknown command "frobnicate"'],
    [[], "missing command"],
  ])("caio %j", async (args, message) => {
    const result = await doctor(args);
    expect({ exitCode: result.exitCode, stdout: result.stdout }).toEqual({ exitCode: 2, stdout: "" });
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain("usage: caio doctor");
  });
});
