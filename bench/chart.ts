/**
 * The SVG chart, drawn by hand (no dependencies): grouped bars of each contender's
 * speed-up against Bun's fs per workload, and the two concurrency sweeps as lines.
 */
import { BUN_FS_LABEL } from "./contenders.ts";
import { machineLine } from "./machine.ts";
import { speedup } from "./report.ts";
import type { BenchResults, SweepResult, WorkloadResult } from "./results.ts";

const WIDTH = 1000;
const FONT = `font-family="system-ui, -apple-system, 'Segoe UI', sans-serif"`;
/** Colour-blind-friendly enough (Tableau 10), in order of first appearance; Bun fs is always grey. */
const PALETTE = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#ff7f0e", "#d62728", "#bcbd22", "#7f7f7f"];
const BASELINE_COLOUR = "#555";

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

const escape = (text: string) => text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

function text(x: number, y: number, content: string, attributes = ""): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attributes}>${escape(content)}</text>`;
}

function line(x1: number, y1: number, x2: number, y2: number, attributes: string): string {
  return `<line x1="${x1.toFixed(1)}" y1="${y1.toFixed(1)}" x2="${x2.toFixed(1)}" y2="${y2.toFixed(1)}" ${attributes}/>`;
}

/** A round axis maximum at or above `value`: 1, 2 or 5 times a power of ten. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(value, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * power).find((v) => v >= value)!;
}

function colours(results: BenchResults): Map<string, string> {
  const labels = [
    ...results.workloads.filter(charted).flatMap((w) => w.series.map((s) => s.label)),
    ...results.sweeps.flatMap((s) => s.lines.map((l) => l.label)),
  ];
  const map = new Map<string, string>([[BUN_FS_LABEL, BASELINE_COLOUR]]);
  for (const label of labels) if (!map.has(label)) map.set(label, PALETTE[(map.size - 1) % PALETTE.length]!);
  return map;
}

/** Horizontal grid lines with labels on the left, for values 0 … max (linear). */
function yGrid(box: Box, max: number, label: (v: number) => string): string[] {
  const out: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const value = (max * i) / 5;
    const y = box.y + box.height - (box.height * i) / 5;
    out.push(line(box.x, y, box.x + box.width, y, `stroke="#e3e3e3"`));
    out.push(text(box.x - 6, y + 4, label(value), `font-size="11" text-anchor="end" fill="#444"`));
  }
  return out;
}

/**
 * The FUSE gap stays off the chart: a few milliseconds of scheduler jitter against a
 * stream that blocks for hundreds would make its bars ratios of noise and stretch the
 * log axis for every other workload. Its table is in the report.
 */
type ChartedId = Exclude<WorkloadResult["id"], "gap">;
type ChartedWorkload = WorkloadResult & { id: ChartedId };
const charted = (w: WorkloadResult): w is ChartedWorkload => w.id !== "gap" && !w.skipped;

const WORKLOAD_CAPTIONS: Record<ChartedId, string> = {
  w1: "W1 cached 4K random ×64",
  w2: "W2 O_DIRECT 4K random ×64",
  w3: "W3 cached 4K qd1 p50",
  w4: "W4 cached 1 MiB sequential",
  w5: "W5 4K writes + fdatasync",
};

/** Powers of two from `low` to `high`, for a log-scale ratio axis. */
function powersOfTwo(low: number, high: number): number[] {
  const out: number[] = [];
  for (let v = low; v <= high * 1.0001; v *= 2) out.push(v);
  return out;
}

const ratioLabel = (v: number) => (v >= 1 ? `${v}×` : `1/${1 / v}×`);

/**
 * Bars grow up (faster than Bun fs) or down (slower) from the 1× line on a log scale,
 * so 2× faster and 2× slower look the same size.
 */
function bars(results: BenchResults, palette: Map<string, string>, box: Box): string[] {
  const workloads = results.workloads.filter(charted);
  const labels = [...new Set(workloads.flatMap((w) => w.series.filter((s) => s.label !== BUN_FS_LABEL).map((s) => s.label)))];
  const ratios = workloads.flatMap((w) => w.series.map((s) => speedup(w, s)).filter((r): r is number => r !== undefined && r > 0));
  const low = 2 ** Math.floor(Math.log2(Math.min(0.5, ...ratios) / 1.1));
  const high = 2 ** Math.ceil(Math.log2(Math.max(2, ...ratios) * 1.1));
  const y = (r: number) => box.y + box.height - (box.height * Math.log2(r / low)) / Math.log2(high / low);
  const out: string[] = [];
  for (const tick of powersOfTwo(low, high)) {
    out.push(line(box.x, y(tick), box.x + box.width, y(tick), `stroke="#e3e3e3"`));
    out.push(text(box.x - 6, y(tick) + 4, ratioLabel(tick), `font-size="11" text-anchor="end" fill="#444"`));
  }
  const groupWidth = box.width / Math.max(1, workloads.length);
  const barWidth = (groupWidth * 0.86) / Math.max(1, labels.length);
  for (const [g, w] of workloads.entries()) {
    const left = box.x + g * groupWidth + groupWidth * 0.07;
    for (const [i, label] of labels.entries()) {
      const s = w.series.find((x) => x.label === label);
      const r = s && speedup(w, s);
      if (r === undefined || !s || r <= 0) continue;
      const x = left + i * barWidth;
      const top = Math.min(y(r), y(1));
      const height = Math.max(1, Math.abs(y(r) - y(1)));
      out.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barWidth - 1).toFixed(1)}" height="${height.toFixed(1)}" fill="${palette.get(label)}"><title>${escape(`${w.title}: ${label} ${r.toFixed(2)}×`)}</title></rect>`);
      const cx = x + barWidth / 2 + 3;
      const labelY = r >= 1 ? y(r) - 3 : y(r) + 3;
      const anchor = r >= 1 ? "start" : "end";
      out.push(text(cx, labelY, r.toFixed(r >= 10 ? 0 : 1), `font-size="9" fill="#333" text-anchor="${anchor}" transform="rotate(-90 ${cx.toFixed(1)} ${labelY.toFixed(1)})"`));
    }
    out.push(text(box.x + g * groupWidth + groupWidth / 2, box.y + box.height + 16, WORKLOAD_CAPTIONS[w.id], `font-size="12" text-anchor="middle" fill="#222"`));
  }
  out.push(line(box.x, y(1), box.x + box.width, y(1), `stroke="${BASELINE_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"`));
  return out;
}

function legend(labels: string[], palette: Map<string, string>, x: number, y: number, width: number): string[] {
  const out: string[] = [];
  const column = width / 5;
  for (const [i, label] of labels.entries()) {
    const cx = x + (i % 5) * column;
    const cy = y + Math.floor(i / 5) * 18;
    out.push(`<rect x="${cx}" y="${cy - 10}" width="12" height="12" fill="${palette.get(label)}"/>`);
    out.push(text(cx + 17, cy, label, `font-size="12" fill="#222"`));
  }
  return out;
}

function sweepPanel(sweep: SweepResult, palette: Map<string, string>, box: Box): string[] {
  const out = [text(box.x, box.y - 10, sweep.title.replace(" by reads in flight", ""), `font-size="13" font-weight="600" fill="#222"`)];
  if (sweep.skipped) return [...out, text(box.x, box.y + 20, `skipped: ${sweep.skipped}`.slice(0, 80), `font-size="11" fill="#a00"`)];
  const values = sweep.lines.flatMap((l) => l.medians.filter((m): m is number => m !== undefined));
  const max = niceCeiling(Math.max(1, ...values) * 1.05);
  const last = Math.max(1, sweep.depths.length - 1);
  const x = (i: number) => box.x + (box.width * i) / last;
  const y = (v: number) => box.y + box.height - (box.height * v) / max;
  out.push(...yGrid(box, max, (v) => `${Math.round(v / 1000)}K`));
  for (const [i, depth] of sweep.depths.entries()) {
    out.push(text(x(i), box.y + box.height + 15, String(depth), `font-size="11" text-anchor="middle" fill="#444"`));
  }
  out.push(text(box.x + box.width / 2, box.y + box.height + 31, "reads in flight (log scale) → IOPS", `font-size="11" text-anchor="middle" fill="#444"`));
  for (const l of sweep.lines) {
    const points = l.medians.flatMap((m, i) => (m === undefined ? [] : [[x(i), y(m)] as const]));
    const colour = palette.get(l.label);
    const dash = l.role === "ceiling" ? ` stroke-dasharray="5 3"` : "";
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="2"${dash} points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" ")}"><title>${escape(l.label)}</title></polyline>`);
    for (const [px, py] of points) out.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="2.5" fill="${colour}"/>`);
  }
  return out;
}

export function svgChart(results: BenchResults): string {
  const palette = colours(results);
  const hasSweeps = results.sweeps.length > 0;
  const legendLabels = [...palette.keys()];
  const legendRows = Math.ceil(legendLabels.length / 5);
  const barsBox = { x: 60, y: 90, width: WIDTH - 90, height: 250 };
  const legendY = barsBox.y + barsBox.height + 44;
  const sweepTop = legendY + legendRows * 18 + 40;
  const height = hasSweeps ? sweepTop + 260 + 50 : legendY + legendRows * 18 + 10;
  const runs = `medians of ${results.runs} runs`;
  const body = [
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    text(20, 28, `caio: speed-up against Bun's node:fs/promises (dashed line, 1×), same run`, `font-size="17" font-weight="600" fill="#111"`),
    text(20, 48, `${runs}, log scale: up is faster, down is slower; W3 compares p50 latency`, `font-size="12" fill="#333"`),
    text(20, 66, machineLine(results.machine), `font-size="11" fill="#555"`),
    ...bars(results, palette, barsBox),
    ...legend(legendLabels, palette, barsBox.x, legendY, barsBox.width),
  ];
  const panelWidth = (WIDTH - 90 - 60) / 2;
  for (const [i, sweep] of results.sweeps.entries()) {
    body.push(...sweepPanel(sweep, palette, { x: 60 + i * (panelWidth + 60), y: sweepTop, width: panelWidth, height: 260 }));
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT}>\n${body.join("\n")}\n</svg>\n`;
}
