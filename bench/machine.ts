/** What the report names about the machine and the run, so figures can be compared. */
import { cpus, loadavg, release, totalmem } from "node:os";

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  bun: string;
  node?: string;
  fio?: string;
  /** liburing-dev's version when the C ceilings ran. */
  liburing?: string;
  /** The Python caio version beside us, when its rows ran. */
  pythonCaio?: string;
  date: string;
  /** 1-minute load average when the run started and ended: other work skews the figures. */
  loadStart: number;
  loadEnd?: number;
  /** Median and highest 1-minute load average seen at the progress lines. */
  loadDuring?: { median: number; max: number };
}

function versionOf(command: string[]): string | undefined {
  if (!Bun.which(command[0]!)) return undefined;
  const result = Bun.spawnSync(command);
  return result.exitCode === 0 ? result.stdout.toString().trim() : undefined;
}

export function describeMachine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: `Linux ${release()}`,
    bun: `Bun ${Bun.version}`,
    node: versionOf(["node", "--version"]),
    fio: versionOf(["fio", "--version"]),
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    loadStart: loadavg()[0]!,
  };
}

export function machineLine(m: Machine): string {
  const tools = [m.bun, m.node ? `Node ${m.node}` : "no Node", m.fio ?? "no fio", m.liburing, m.pythonCaio].filter(Boolean).join(", ");
  let load = m.loadEnd === undefined ? m.loadStart.toFixed(2) : `${m.loadStart.toFixed(2)} → ${m.loadEnd.toFixed(2)}`;
  if (m.loadDuring) load += ` (median ${m.loadDuring.median.toFixed(2)}, max ${m.loadDuring.max.toFixed(2)} during the run)`;
  return `${m.date} · ${m.cpu} ×${m.cores}, ${m.memoryGiB} GiB · ${m.kernel} · ${tools} · load ${load}`;
}
