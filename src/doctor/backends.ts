/**
 * Which native library loaded and why, and for every backend whether it runs here and,
 * when it does not, the concrete change that would let it: the sysctl with its current
 * value, the container option, the limit. The refusals themselves come from
 * availableBackends(); this file only turns their error codes into fixes.
 */
import type { BackendName } from "../backends/index.ts";
import { nativeLibrary, type NativeLoadPath } from "../native.ts";
import { platformName } from "../native/prebuilt.ts";
import { availableBackends } from "../select.ts";
import { formatBytes, formatCount, formatLimit } from "./format.ts";
import type { KernelSettings, Limits, SystemFacts } from "./system.ts";

export interface NativeReport {
  path: NativeLoadPath;
  /** The shared object loaded; absent for TinyCC (in memory) and "none". */
  file?: string;
  /** One sentence: why this path, and what the paths before it lacked. */
  why: string;
  /** CAIO_NATIVE as set in the environment, or null. */
  mode: string | null;
  compileMs?: number;
}

export interface BackendReport {
  name: BackendName;
  available: boolean;
  /** The refusal, as availableBackends() reports it. */
  reason?: string;
  /** Its error code: an errno name ("EPERM") or "ERR_CAIO_BACKEND_UNAVAILABLE". */
  code?: string;
  /** What to change so it runs; empty when available. */
  fixes: string[];
}

/** Everything the fixes quote. */
export interface Circumstances {
  system: SystemFacts;
  settings: KernelSettings;
  limits: Limits;
  native: NativeReport;
}

const WHY_PATH: Record<NativeLoadPath, string> = {
  prebuilt: `the prebuilt object shipped for ${platformName()} matches the shipped C sources`,
  embedded: "the object carried inside this executable (bun build --compile), copied out to the per-user cache",
  cache: "compiled from the shipped C sources with the system C compiler into the per-user cache",
  tinycc: "compiled in memory with Bun's TinyCC (no prebuilt object fits and no system C compiler was usable)",
  none: "no native library loaded, so only the js backend runs",
};

export function nativeReport(): NativeReport {
  const library = nativeLibrary();
  const passedOver = library.reason ? ` (${library.reason})` : "";
  return {
    path: library.path,
    ...(library.file ? { file: library.file } : {}),
    why: `${WHY_PATH[library.path]}${passedOver}`,
    mode: process.env.CAIO_NATIVE?.trim() || null,
    ...(library.compileMs !== undefined ? { compileMs: library.compileMs } : {}),
  };
}

function nativeFixes(native: NativeReport): string[] {
  if (native.mode === "none") return ["unset CAIO_NATIVE (now none), which turns the native library off"];
  return [
    'install a C compiler ("apt-get install gcc", "apk add build-base"); caio then compiles its C sources once into ~/.cache/caio',
    "or reinstall caio so its prebuilt/ directory is present",
  ];
}

/** Docker 25+ and containerd 2 ship default seccomp profiles that refuse io_uring_setup with EPERM. */
function seccompFixes(system: SystemFacts, syscalls: string): string[] {
  const where = system.container ? `this process runs in ${system.container.kind} (${system.container.evidence})` : "no container detected";
  return [
    `a seccomp profile may refuse ${syscalls} (Seccomp: ${system.seccomp}; ${where})`,
    `Docker: docker run --security-opt seccomp=unconfined, or --security-opt seccomp=/path/profile.json with a profile allowing ${syscalls} (the default profiles of Docker 25+ and containerd 2 block io_uring)`,
    `Kubernetes: securityContext.seccompProfile: { type: Unconfined }, or { type: Localhost, localhostProfile: <a profile allowing ${syscalls}> }`,
  ];
}

function uringPermissionFixes({ settings, system }: Circumstances): string[] {
  const disabled = settings["kernel.io_uring_disabled"];
  const group = settings["kernel.io_uring_group"];
  if (disabled === "2") {
    return ["sysctl -w kernel.io_uring_disabled=0 (now 2: io_uring is off for every process); persist it in /etc/sysctl.d/"];
  }
  if (disabled === "1") {
    return [
      `add this user to the group kernel.io_uring_group names (now ${group}; -1 means only CAP_SYS_ADMIN may use io_uring), e.g. sysctl -w kernel.io_uring_group=<gid>`,
      "or sysctl -w kernel.io_uring_disabled=0 (now 1: io_uring only for that group)",
    ];
  }
  return seccompFixes(system, "io_uring_setup, io_uring_enter and io_uring_register");
}

function memlockFix(limits: Limits): string {
  return (
    `raise RLIMIT_MEMLOCK (now ${formatLimit(limits.memlock, formatBytes)}; kernels before 5.12 charge io_uring's rings to it): ` +
    'ulimit -l unlimited, docker run --ulimit memlock=-1, or LimitMEMLOCK=infinity in a systemd unit'
  );
}

function uringFixes(code: string | undefined, circumstances: Circumstances): string[] {
  if (code === "EPERM") return uringPermissionFixes(circumstances);
  if (code === "ENOSYS") {
    return [`run on Linux 5.6 or later outside gVisor (this kernel is ${circumstances.system.kernel})`];
  }
  if (code === "ENOMEM") return [memlockFix(circumstances.limits)];
  return [];
}

function linuxFixes(code: string | undefined, { settings, system }: Circumstances): string[] {
  if (code === "EAGAIN") {
    return [
      `sysctl -w fs.aio-max-nr=1048576 (now fs.aio-max-nr=${settings["fs.aio-max-nr"]}, fs.aio-nr=${settings["fs.aio-nr"]} in use), or lower maxRequests`,
    ];
  }
  if (code === "ENOSYS" || code === "EPERM") {
    return ["use a kernel built with CONFIG_AIO (not gVisor)", ...seccompFixes(system, "io_setup, io_submit and io_getevents")];
  }
  return [];
}

/** The concrete changes that would let `name` run, from its refusal's code and the current settings. */
export function fixesFor(name: BackendName, code: string | undefined, reason: string, circumstances: Circumstances): string[] {
  if (code === "EMFILE" || code === "ENFILE") {
    return [`raise the open-file limit (now ${formatLimit(circumstances.limits.nofile, formatCount)}): ulimit -n 65536, or LimitNOFILE= in a systemd unit`];
  }
  if (name !== "js" && reason.includes("native library is not loaded")) return nativeFixes(circumstances.native);
  if (name === "uring") return uringFixes(code, circumstances);
  if (name === "linux") return linuxFixes(code, circumstances);
  return [];
}

export function backendReports(circumstances: Circumstances): BackendReport[] {
  return availableBackends().map(({ name, available, reason, code }) => ({
    name,
    available,
    ...(reason !== undefined ? { reason } : {}),
    ...(code !== undefined ? { code } : {}),
    fixes: available ? [] : fixesFor(name, code, reason ?? "", circumstances),
  }));
}
