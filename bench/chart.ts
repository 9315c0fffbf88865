/**
 * The SVG chart, drawn by hand (no dependencies): grouped bars of each contender's
 * speed-up against Bun's fs per workload, the C io_uring ceiling as a black mark across
 * each group, and the two concurrency sweeps as lines (the ceiling black and dashed).
 */
import { CEILING_LABEL } from "./ceiling.ts";
import { BUN_FS_LABEL } from "./contenders.ts";
import { machineLine } from "./machine.ts";
import { speedup } from "./report.ts";
import { lowerIsBetter, type BenchResults, type Series, type SweepResult, type WorkloadResult } from "./results.ts";
import { median } from "./stats.ts";

const WIDTH = 1000;
const FONT = `font-family="system-ui, -apple-system, 'Segoe UI', sans-serif"`;
/** Colour-blind-friendly enough (Tableau 10), in order of first appearance; Bun fs is always grey. */
const PALETTE = [
  "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#17becf", "#e377c2", "#ff7f0e", "#d62728", "#bcbd22", "#7f7f7f",
  "#aec7e8", "#98df8a", "#ff9896", "#c5b0d5", "#dbdb8d",
];
const BASELINE_COLOUR = "#555";
const CEILING_COLOUR = "#000";

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

/** A bar: a row, or a family's best row under the family's name. */
interface Bar {
  label: string;
  series: Series;
}

/** The bars of a workload: every row but the ceiling (drawn as a mark), each family as its best member. */
function barsOf(w: WorkloadResult): Bar[] {
  const sign = lowerIsBetter(w.unit) ? -1 : 1;
  const out: Bar[] = [];
  for (const s of w.series) {
    if (s.label === CEILING_LABEL) continue;
    if (!s.family) {
      out.push({ label: s.label, series: s });
      continue;
    }
    const label = `${s.family} (best)`;
    const held = out.find((b) => b.label === label);
    const heldWins = held && held.series.samples.length > 0 && (s.samples.length === 0 || sign * (median(s.samples) - median(held.series.samples)) <= 0);
    if (!held) out.push({ label, series: s });
    else if (!heldWins) held.series = s;
  }
  return out;
}

function colours(results: BenchResults): Map<string, string> {
  const labels = [
    ...results.workloads.filter(charted).flatMap((w) => barsOf(w).map((b) => b.label)),
    ...results.sweeps.flatMap((s) => s.lines.map((l) => l.label)),
  ];
  const map = new Map<string, string>([[BUN_FS_LABEL, BASELINE_COLOUR]]);
  if ([...results.workloads, ...results.sweeps].some((w) => ("series" in w ? w.series : w.lines).some((x) => x.label === CEILING_LABEL))) {
    map.set(CEILING_LABEL, CEILING_COLOUR);
  }
  let next = 0;
  for (const label of labels) if (!map.has(label)) map.set(label, PALETTE[next++ % PALETTE.length]!);
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
 * log axis for every other workload. Its table is in the report. So do the streaming
 * workloads (W7, W7d, W8): Bun's fs has no row there, and bars against another
 * baseline would read as speed-ups over Bun fs on this chart.
 */
const UNCHARTED = ["gap", "w7", "w7d", "w8"] as const;
type ChartedId = Exclude<WorkloadResult["id"], (typeof UNCHARTED)[number]>;
type ChartedWorkload = WorkloadResult & { id: ChartedId };
const charted = (w: WorkloadResult): w is ChartedWorkload => !(UNCHARTED as readonly string[]).includes(w.id) && !w.skipped;

const WORKLOAD_CAPTIONS: Record<ChartedId, string> = {
  w1: "W1 cached 4K random ×64",
  w2: "W2 O_DIRECT 4K random ×64",
  w3: "W3 cached 4K qd1 p50",
  w4: "W4 cached 1 MiB sequential",
  w5: "W5 4K writes + fdatasync",
  w6read: "W6 readFile 4K ×64",
  w6stat: "W6 stat ×64",
  w6write: "W6 writeFile 4K ×64",
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
  const labels = [...new Set(workloads.flatMap((w) => barsOf(w).filter((b) => b.label !== BUN_FS_LABEL).map((b) => b.label)))];
  // The axis spans what is drawn: the bars and the ceiling marks, not every member of a family.
  const drawn = (w: WorkloadResult) => [...barsOf(w).map((b) => b.series), ...w.series.filter((s) => s.label === CEILING_LABEL)];
  const ratios = workloads.flatMap((w) => drawn(w).map((s) => speedup(w, s)).filter((r): r is number => r !== undefined && r > 0));
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
    const bars = barsOf(w);
    for (const [i, label] of labels.entries()) {
      const s = bars.find((b) => b.label === label)?.series;
      const r = s && speedup(w, s);
      if (r === undefined || !s || r <= 0) continue;
      const x = left + i * barWidth;
      const top = Math.min(y(r), y(1));
      const height = Math.max(1, Math.abs(y(r) - y(1)));
      const title = label === s.label ? `${w.title}: ${label} ${r.toFixed(2)}×` : `${w.title}: ${label}: ${s.label} ${r.toFixed(2)}×`;
      out.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(barWidth - 1).toFixed(1)}" height="${height.toFixed(1)}" fill="${palette.get(label)}"><title>${escape(title)}</title></rect>`);
      const cx = x + barWidth / 2 + 3;
      const labelY = r >= 1 ? y(r) - 3 : y(r) + 3;
      const anchor = r >= 1 ? "start" : "end";
      out.push(text(cx, labelY, r.toFixed(r >= 10 ? 0 : 1), `font-size="9" fill="#333" text-anchor="${anchor}" transform="rotate(-90 ${cx.toFixed(1)} ${labelY.toFixed(1)})"`));
    }
    out.push(...ceilingMark(w, left, groupWidth * 0.86, y));
    out.push(text(box.x + g * groupWidth + groupWidth / 2, box.y + box.height + 16, WORKLOAD_CAPTIONS[w.id], `font-size="12" text-anchor="middle" fill="#222"`));
  }
  out.push(line(box.x, y(1), box.x + box.width, y(1), `stroke="${BASELINE_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"`));
  return out;
}

/** The C ceiling's speed-up as a black line across the whole group, labelled, with its figure on hover. */
function ceilingMark(w: WorkloadResult, left: number, width: number, y: (r: number) => number): string[] {
  const s = w.series.find((x) => x.label === CEILING_LABEL);
  const r = s && speedup(w, s);
  if (r === undefined || !(r > 0)) return [];
  const title = `<title>${escape(`${w.title}: ${CEILING_LABEL} ${r.toFixed(2)}×`)}</title>`;
  return [
    `<line x1="${left.toFixed(1)}" y1="${y(r).toFixed(1)}" x2="${(left + width).toFixed(1)}" y2="${y(r).toFixed(1)}" stroke="${CEILING_COLOUR}" stroke-width="2.5">${title}</line>`,
    text(left + width, y(r) - 3, `C ${r.toFixed(r >= 10 ? 0 : 1)}`, `font-size="9" fill="${CEILING_COLOUR}" text-anchor="end" paint-order="stroke" stroke="#fff" stroke-width="3"`),
  ];
}

function legend(labels: string[], palette: Map<string, string>, x: number, y: number, width: number): string[] {
  const out: string[] = [];
  const column = width / 5;
  for (const [i, label] of labels.entries()) {
    const cx = x + (i % 5) * column;
    const cy = y + Math.floor(i / 5) * 18;
    if (label === CEILING_LABEL) {
      out.push(line(cx, cy - 4, cx + 12, cy - 4, `stroke="${CEILING_COLOUR}" stroke-width="2.5"`));
      out.push(text(cx + 17, cy, label, `font-size="12" fill="#222"`));
      continue;
    }
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
    const width = l.label === CEILING_LABEL ? 2.5 : 2;
    out.push(`<polyline fill="none" stroke="${colour}" stroke-width="${width}"${dash} points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" ")}"><title>${escape(l.label)}</title></polyline>`);
    for (const [px, py] of points) out.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="2.5" fill="${colour}"/>`);
  }
  return out;
}

/** About how many characters of 11 px text fit across the chart. */
const MACHINE_LINE_CHARS = 165;

/** `line` in parts of at most `width` characters, broken after a " · " or ", " separator. */
function wrap(line: string, width: number): string[] {
  const parts: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const cut = Math.max(rest.lastIndexOf(" · ", width), rest.lastIndexOf(", ", width));
    if (cut <= 0) break;
    parts.push(rest.slice(0, cut + 2).trimEnd());
    rest = rest.slice(cut + 2).trimStart();
  }
  return [...parts, rest];
}

export function svgChart(results: BenchResults): string {
  const palette = colours(results);
  const hasSweeps = results.sweeps.length > 0;
  const legendLabels = [...palette.keys()];
  const legendRows = Math.ceil(legendLabels.length / 5);
  const machine = wrap(machineLine(results.machine), MACHINE_LINE_CHARS);
  const barsBox = { x: 60, y: 76 + 14 * machine.length, width: WIDTH - 90, height: 250 };
  const legendY = barsBox.y + barsBox.height + 44;
  const sweepTop = legendY + legendRows * 18 + 40;
  const height = hasSweeps ? sweepTop + 260 + 50 : legendY + legendRows * 18 + 10;
  const runs = `medians of ${results.runs} runs`;
  const body = [
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    text(20, 28, `caio: speed-up against Bun's node:fs/promises (dashed line, 1×), same run`, `font-size="17" font-weight="600" fill="#111"`),
    text(20, 48, `${runs}, log scale: up is faster, down is slower; W3 compares p50 latency`, `font-size="12" fill="#333"`),
    ...machine.map((part, i) => text(20, 66 + 14 * i, part, `font-size="11" fill="#555"`)),
    ...bars(results, palette, barsBox),
    ...legend(legendLabels, palette, barsBox.x, legendY, barsBox.width),
  ];
  const panelWidth = (WIDTH - 90 - 60) / 2;
  for (const [i, sweep] of results.sweeps.entries()) {
    body.push(...sweepPanel(sweep, palette, { x: 60 + i * (panelWidth + 60), y: sweepTop, width: panelWidth, height: 260 }));
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT}>\n${body.join("\n")}\n</svg>\n`;
}
