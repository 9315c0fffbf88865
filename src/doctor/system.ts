/**
 * Facts about the machine that decide which backends can run: versions, the sandbox
 * (container, seccomp), the sysctls and resource limits the backends' setup errors
 * name. Read from /proc only; nothing here changes any setting.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { release, version } from "node:os";
import { readSysctl } from "../backends/sysctl.ts";

export interface SystemFacts {
  bun: string;
  /** `uname -r` */
  kernel: string;
  /** `uname -v`: the build, which tells distribution kernels apart */
  kernelBuild: string;
  /** process.arch: "x64", "arm64", ... */
  arch: string;
  /** "glibc 2.36", "musl", or "unknown" */
  libc: string;
  /** The container runtime this process seems to run under, and the file or variable that says so. */
  container: { kind: string; evidence: string } | null;
  /** /proc/self/status Seccomp: "off", "strict" or "filter" (a profile filters system calls), or "unknown". */
  seccomp: "off" | "strict" | "filter" | "unknown";
}

/** The sysctls quoted in backend fixes, as the kernel prints them; null where the kernel has no such file. */
export interface KernelSettings {
  "kernel.io_uring_disabled": string | null;
  "kernel.io_uring_group": string | null;
  "fs.aio-nr": string | null;
  "fs.aio-max-nr": string | null;
}

/** A resource limit; null means unlimited. */
export interface Limit {
  soft: number | null;
  hard: number | null;
}

export interface Limits {
  /** RLIMIT_MEMLOCK in bytes: kernels before 5.12 charge io_uring's rings to it. */
  memlock: Limit;
  /** RLIMIT_NOFILE in descriptors: every context holds a few (ring or AIO context, eventfd, wake socket). */
  nofile: Limit;
}

function readOr(file: string, fallback = ""): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

function detectLibc(): string {
  const report = process.report?.getReport?.() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const glibc = report?.header?.glibcVersionRuntime;
  if (glibc) return `glibc ${glibc}`;
  const musl = existsSync("/lib") && readdirSync("/lib").some((name) => name.startsWith("ld-musl-"));
  return musl ? "musl" : "unknown";
}

/** Runtimes leave a marker file, an environment variable or their name in PID 1's cgroup path. */
function detectContainer(): SystemFacts["container"] {
  if (process.env.KUBERNETES_SERVICE_HOST) return { kind: "kubernetes", evidence: "KUBERNETES_SERVICE_HOST is set" };
  if (existsSync("/.dockerenv")) return { kind: "docker", evidence: "/.dockerenv exists" };
  if (existsSync("/run/.containerenv")) return { kind: "podman", evidence: "/run/.containerenv exists" };
  const cgroup = readOr("/proc/1/cgroup");
  for (const [pattern, kind] of [[/kubepods/, "kubernetes"], [/docker/, "docker"], [/libpod/, "podman"], [/containerd/, "containerd"]] as const) {
    if (pattern.test(cgroup)) return { kind, evidence: `/proc/1/cgroup mentions ${kind === "kubernetes" ? "kubepods" : kind}` };
  }
  return null;
}

function seccompMode(): SystemFacts["seccomp"] {
  const mode = /^Seccomp:\s*(\d)/m.exec(readOr("/proc/self/status"))?.[1];
  return mode === "0" ? "off" : mode === "1" ? "strict" : mode === "2" ? "filter" : "unknown";
}

export function systemFacts(): SystemFacts {
  return {
    bun: Bun.version,
    kernel: release(),
    kernelBuild: version(),
    arch: process.arch,
    libc: detectLibc(),
    container: detectContainer(),
    seccomp: seccompMode(),
  };
}

function sysctlOrNull(name: string): string | null {
  const value = readSysctl(name);
  return value === "unknown" ? null : value;
}

export function kernelSettings(): KernelSettings {
  return {
    "kernel.io_uring_disabled": sysctlOrNull("kernel.io_uring_disabled"),
    "kernel.io_uring_group": sysctlOrNull("kernel.io_uring_group"),
    "fs.aio-nr": sysctlOrNull("fs.aio-nr"),
    "fs.aio-max-nr": sysctlOrNull("fs.aio-max-nr"),
  };
}

function parseLimitValue(text: string | undefined): number | null {
  return text === undefined || text === "unlimited" ? null : Number(text);
}

/** One row of /proc/self/limits, e.g. "Max locked memory   8388608   8388608   bytes". */
function readLimit(table: string, label: string): Limit {
  const row = new RegExp(`^${label}\\s+(\\S+)\\s+(\\S+)`, "m").exec(table);
  return { soft: parseLimitValue(row?.[1]), hard: parseLimitValue(row?.[2]) };
}

export function resourceLimits(): Limits {
  const table = readOr("/proc/self/limits");
  return { memlock: readLimit(table, "Max locked memory"), nofile: readLimit(table, "Max open files") };
}
