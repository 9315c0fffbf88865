/** The text form of a DoctorReport: sections of aligned "label  value" lines, fixes indented under their backend. */
import type { BackendReport } from "./backends.ts";
import type { FileSystemReport } from "./filesystem.ts";
import { formatBytes, formatCount, formatLimit, formatThousands } from "./format.ts";
import type { MeasurementReport, Workload } from "./measure.ts";
import type { DoctorReport } from "./report.ts";

type Row = [label: string, value: string];

function section(title: string, rows: Row[]): string {
  const width = Math.max(...rows.map(([label]) => label.length));
  return [title, ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`)].join("\n");
}

function systemSection({ system, caio }: DoctorReport): string {
  const container = system.container ? `${system.container.kind} (${system.container.evidence})` : "none detected";
  return section(`caio ${caio} doctor`, [
    ["Bun", system.bun],
    ["kernel", `${system.kernel} (${system.kernelBuild})`],
    ["arch", system.arch],
    ["libc", system.libc],
    ["container", container],
    ["seccomp", system.seccomp],
  ]);
}

function nativeSection({ native }: DoctorReport): string {
  const rows: Row[] = [["load path", native.file ? `${native.path}: ${native.file}` : native.path], ["why", native.why]];
  if (native.mode) rows.push(["CAIO_NATIVE", native.mode]);
  if (native.compileMs !== undefined) rows.push(["compiled in", `${native.compileMs} ms`]);
  return section("Native library", rows);
}

function settingsSection({ settings, limits }: DoctorReport): string {
  const shown = (value: string | null) => value ?? "absent (older kernel)";
  return section("Kernel settings and limits", [
    ["kernel.io_uring_disabled", `${shown(settings["kernel.io_uring_disabled"])}  (0 allowed, 1 only kernel.io_uring_group, 2 off)`],
    ["kernel.io_uring_group", shown(settings["kernel.io_uring_group"])],
    ["fs.aio-nr / fs.aio-max-nr", `${shown(settings["fs.aio-nr"])} / ${shown(settings["fs.aio-max-nr"])}`],
    ["RLIMIT_MEMLOCK", formatLimit(limits.memlock, formatBytes)],
    ["RLIMIT_NOFILE", formatLimit(limits.nofile, formatCount)],
  ]);
}

function backendLines(backend: BackendReport): string[] {
  if (backend.available) return [`  ${backend.name.padEnd(6)}  available`];
  return [
    `  ${backend.name.padEnd(6)}  unavailable${backend.code ? ` (${backend.code})` : ""}: ${backend.reason}`,
    ...backend.fixes.map((fix) => `          fix: ${fix}`),
  ];
}

function backendsSection({ backends, selected }: DoctorReport): string {
  return [`Backends (new Context() picks ${selected} here)`, ...backends.flatMap(backendLines)].join("\n");
}

function fileSystemSection(fs: FileSystemReport): string {
  const mount = fs.mountPoint ? ` (${fs.source} on ${fs.mountPoint}, device ${fs.device})` : "";
  const logical = fs.logicalBlockSize === null ? "no block device" : `${fs.logicalBlockSize} B`;
  return section(`File system of ${fs.dir}`, [
    ["type", `${fs.type ?? "unknown"}${mount}, statfs magic ${fs.magic}`],
    ["logical block", `${logical} (file system block ${formatBytes(fs.blockSize)})`],
    ["O_DIRECT", `${fs.direct.supported ? "supported" : "unsupported"}: ${fs.direct.detail}`],
  ]);
}

function iopsCell(measurement: MeasurementReport, backend: string, workload: Workload): string {
  const run = measurement.results.find((r) => r.backend === backend && r.workload === workload);
  if (!run) return "-";
  return run.iops === null ? `failed: ${run.error}` : formatThousands(run.iops);
}

function measurementSection(measurement: MeasurementReport): string {
  const title =
    `Measurement: 4 KiB random reads, ${measurement.inFlight} in flight, ${formatBytes(measurement.fileBytes)} file, ` +
    `${measurement.durationMs} ms per backend and workload (best of 3 rounds)`;
  if (measurement.skipped) return `${title}\n  skipped: ${measurement.skipped}`;
  const backends = [...new Set(measurement.results.map((r) => r.backend))];
  const rows = backends.map((name) => `  ${name.padEnd(6)}  ${iopsCell(measurement, name, "cached").padStart(12)}  ${iopsCell(measurement, name, "direct").padStart(13)}`);
  const lines = [title, `  ${"".padEnd(6)}  ${"cached IOPS".padStart(12)}  ${"O_DIRECT IOPS".padStart(13)}`, ...rows];
  const recommended = measurement.recommended;
  if (recommended) {
    lines.push(
      `  recommended: ${recommended.backend}, ${recommended.basis}`,
      `  pin it: ${recommended.pin.env}, or the line "${recommended.pin.line}" in ${recommended.pin.file}`,
      "  (a short run on a possibly busy machine; bench/ measures properly)",
    );
  }
  return lines.join("\n");
}

export function renderText(report: DoctorReport): string {
  return [
    systemSection(report),
    nativeSection(report),
    settingsSection(report),
    backendsSection(report),
    fileSystemSection(report.fs),
    measurementSection(report.measurement),
  ].join("\n\n");
}
