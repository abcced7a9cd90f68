/**
 * The run's progress chart, in the spirit of autoresearch's progress.png, but plotting what the judge compared: each
 * experiment as its candidate's change against its own parent *as measured beside it in that experiment*, in percent,
 * with the interval of that change as an error bar, kept ones marked. A point therefore never sits in another
 * experiment's frame: a candidate measured on a machine that had slowed down since its parent was kept (parent 109.5
 * when kept, 154.2 beside it) is drawn at its −40% against 154.2 with its interval across 0%, not below a best-so-far
 * line drawn at 109.5, where it would seem to beat what was kept and to have been thrown away. A standalone SVG string
 * (no fonts, scripts or links to fetch), so it renders the same in a browser, on GitHub and in a job summary.
 */
import type { ExperimentRecord, RunRecord } from '../ledger/records.js';
import { experimentWhy, measuredValue, sortExperiments, summarizeRun, type ExperimentComparison } from './report.js';
import { ledgerProgress, progressRange, type ProgressKind } from './progress-points.js';
import { formatRelativeInterval } from './markdown.js';
import { formatNumber, formatPercent } from '../config/units.js';

/** Options of {@link renderProgressChart}. */
export interface ChartOptions {
  /** Width in pixels (default 800). */
  width?: number;
  /** Height in pixels (default 400). */
  height?: number;
  /** Title line; defaults to the number of experiments and kept improvements. */
  title?: string;
  /** Label kept points with their (truncated) hypothesis, as autoresearch does (default true). */
  annotate?: boolean;
}

const COLORS = {
  keep: '#2e9e44',
  keepStroke: '#1b6e2c',
  discard: '#9aa0a6',
  held: '#e37400',
  invalid: '#d93025',
  interval: '#80868b',
  baseline: '#1a4f8b',
  grid: '#e8eaed',
  axis: '#5f6368',
  text: '#202124',
  muted: '#5f6368',
};
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const ANNOTATION_CHARS = 30;
const ANNOTATION_ANGLE = 28;
/** Smallest distance in pixels between two parallel annotation baselines (the font is 10px). */
const ANNOTATION_GAP = 12;

/** Escapes text for SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A 1-2-5 step near span / target. */
function niceStep(span: number, target: number): number {
  const raw = span / Math.max(1, target);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalized = raw / magnitude;
  const factor = normalized < 1.5 ? 1 : normalized < 3.5 ? 2 : normalized < 7.5 ? 5 : 10;
  return factor * magnitude;
}

/**
 * Round tick values (steps of 1, 2 or 5 times a power of ten) covering [min, max], about `target` of them.
 * The first and last ticks enclose the range, so they make a tidy axis domain.
 */
export function niceTicks(min: number, max: number, target = 5): { ticks: number[]; step: number } {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return { ticks: [0, 1], step: 1 };
  if (max < min) [min, max] = [max, min];
  if (max === min) {
    // A flat line still needs an axis: pad by 10% of the value (or 1 around zero).
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = niceStep(max - min, target);
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const ticks: number[] = [];
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
  return { ticks, step };
}

/** Tick label of a change in percent with as many decimals as the step needs, signed, never `-0`: `−20%`, `0%`, `+20%`. */
function tickLabel(value: number, step: number): string {
  if (Math.abs(value) < step * 1e-6) return '0%';
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  const text = decimals > 6 || Math.abs(value) >= 1e6 ? formatNumber(value, 3) : value.toFixed(decimals);
  return `${value > 0 ? '+' : ''}${text.replace('-', '−')}%`;
}

function truncate(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** One decimal is plenty for pixels and keeps the SVG small. */
function px(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** Rough width of a label in the chart's sans-serif font, for layout without measuring text. */
function textWidth(text: string, size: number): number {
  return text.length * size * 0.58;
}

interface Point {
  record: ExperimentRecord;
  compared: ExperimentComparison;
  /** The candidate's change against its parent, in percent (0 for the baseline); null when not measured. */
  y: number | null;
  /** The interval of that change, in percent; null with one run per side or no judgement. */
  bar: { low: number; high: number } | null;
  kind: ProgressKind;
}

/** The points of the chart: each experiment against its parent ({@link ledgerProgress}), in percent. */
function chartPoints(run: RunRecord, experiments: readonly ExperimentRecord[]): Point[] {
  return ledgerProgress(run, experiments).map(({ record, compared, point }) => ({ record, compared, y: point.change, bar: point.interval, kind: point.kind }));
}

/**
 * Renders the progress of a run as a standalone SVG: x is the experiment number, y the candidate's change against its
 * parent as measured beside it in the same experiment, in percent (see the module comment for why), the parent line
 * at 0%. Kept experiments are filled green points, discarded ones hollow grey, those discarded though better beyond
 * the noise (a guard regressed, a suspicious gain, a stale parent) hollow orange, each with its interval as a vertical
 * bar; crashed or invalid ones a red × on the worse edge (they have no value), the baseline (experiment 0) a blue
 * diamond on the parent line. The title says what is plotted, the subtitle baseline → best. Readable at 800×400;
 * handles empty runs, flat runs and either goal.
 */
export function renderProgressChart(run: RunRecord, experiments: readonly ExperimentRecord[], options: ChartOptions = {}): string {
  const width = Math.max(320, Math.round(options.width ?? 800));
  const height = Math.max(200, Math.round(options.height ?? 400));
  const { name, goal } = run.metric;
  const sorted = sortExperiments(experiments);
  const summary = summarizeRun(run, sorted);
  const points = chartPoints(run, sorted);
  const measured = points.filter((p) => p.y !== null);

  // y domain: the parent line and the kept points with their intervals always; discarded ones unless they are wild outliers.
  const ends = (p: Point) => [p.y!, ...(p.bar ? [p.bar.low, p.bar.high] : [])];
  const core = [...(measured.length > 0 ? [0] : []), ...measured.filter((p) => p.kind === 'keep' || p.kind === 'baseline').flatMap(ends)];
  const others = measured.filter((p) => p.kind === 'discard' || p.kind === 'held').flatMap(ends);
  const { low, high } = progressRange(core, others);
  const hasInvalid = points.some((p) => p.kind === 'invalid');
  const margin = measured.length ? (high - low) * 0.06 : 0;
  // Leave room on the worse edge for the row of invalid markers.
  const worseRoom = hasInvalid ? (high - low) * 0.08 : 0;
  const yTicks = niceTicks(low - margin - (goal === 'maximize' ? worseRoom : 0), high + margin + (goal === 'minimize' ? worseRoom : 0), Math.max(3, Math.round(height / 80)));
  const yMin = yTicks.ticks[0]!;
  const yMax = yTicks.ticks[yTicks.ticks.length - 1]!;

  const lastExperiment = sorted.length ? Math.max(1, sorted[sorted.length - 1]!.experiment) : 1;
  const xStep = Math.max(1, Math.round(niceStep(lastExperiment, Math.max(2, Math.floor(width / 70)))));
  const xTicks: number[] = [];
  for (let x = 0; x <= lastExperiment; x += xStep) xTicks.push(x);

  const yLabels = yTicks.ticks.map((tick) => tickLabel(tick, yTicks.step));
  const left = 34 + Math.max(...yLabels.map((label) => textWidth(label, 11))) + 8;
  const right = 20;
  const top = 86;
  const bottom = 46;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const sx = (x: number) => left + ((x + 0.5) / (lastExperiment + 1)) * plotWidth;
  const sy = (y: number) => top + (1 - (y - yMin) / (yMax - yMin)) * plotHeight;
  const clampY = (y: number) => Math.min(top + plotHeight, Math.max(top, y));
  const worseEdge = goal === 'minimize' ? top + 9 : top + plotHeight - 9;

  const kept = summary.counts.keep;
  const title =
    options.title ?? `autoloop progress: ${summary.experiments} experiment${summary.experiments === 1 ? '' : 's'}, ${kept} kept improvement${kept === 1 ? '' : 's'}`;
  const axisLabel = `${name}: change vs parent, % (${goal === 'minimize' ? 'lower' : 'higher'} is better)`;
  let subtitle = `run ${run.tag}`;
  if (summary.baseline !== null && summary.best !== null) {
    subtitle += ` · baseline ${formatNumber(summary.baseline, 5)} → best ${formatNumber(summary.best, 5)}`;
    if (summary.improvementRelative !== null) subtitle += ` (${formatPercent(summary.improvementRelative)})`;
  }
  const explanation = 'each experiment: its candidate against its parent measured beside it (0%), with the interval of the change';

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="autoloop-chart-title" font-family="${escapeXml(FONT)}">`,
    `<title id="autoloop-chart-title">${escapeXml(`${title} — ${explanation} — ${axisLabel}`)}</title>`,
    `<defs><clipPath id="autoloop-plot"><rect x="${px(left)}" y="${px(top)}" width="${px(plotWidth)}" height="${px(plotHeight)}"/></clipPath></defs>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${px(left)}" y="22" font-size="15" font-weight="600" fill="${COLORS.text}">${escapeXml(truncate(title, Math.floor((width - left) / 8.5)))}</text>`,
    `<text x="${px(left)}" y="40" font-size="11.5" fill="${COLORS.muted}">${escapeXml(truncate(subtitle, Math.floor((width - left) / 6.5)))}</text>`,
    `<text class="explanation" x="${px(left)}" y="56" font-size="11.5" fill="${COLORS.muted}">${escapeXml(truncate(explanation, Math.floor((width - left) / 6.5)))}</text>`,
  );

  // Grid and axes.
  out.push('<g class="grid">');
  yTicks.ticks.forEach((tick, i) => {
    const y = px(sy(tick));
    out.push(`<line x1="${px(left)}" x2="${px(left + plotWidth)}" y1="${y}" y2="${y}" stroke="${COLORS.grid}"/>`);
    out.push(`<text x="${px(left - 6)}" y="${y}" dy="0.35em" text-anchor="end" font-size="11" fill="${COLORS.muted}">${escapeXml(yLabels[i]!)}</text>`);
  });
  for (const tick of xTicks) {
    const x = px(sx(tick));
    out.push(`<line x1="${x}" x2="${x}" y1="${px(top + plotHeight)}" y2="${px(top + plotHeight + 4)}" stroke="${COLORS.axis}"/>`);
    out.push(`<text x="${x}" y="${px(top + plotHeight + 16)}" text-anchor="middle" font-size="11" fill="${COLORS.muted}">${tick}</text>`);
  }
  out.push('</g>');
  out.push(
    `<rect x="${px(left)}" y="${px(top)}" width="${px(plotWidth)}" height="${px(plotHeight)}" fill="none" stroke="${COLORS.axis}" stroke-width="1"/>`,
    `<text x="${px(left + plotWidth / 2)}" y="${px(height - 8)}" text-anchor="middle" font-size="12" fill="${COLORS.text}">experiment</text>`,
    `<text transform="translate(14 ${px(top + plotHeight / 2)}) rotate(-90)" text-anchor="middle" font-size="12" fill="${COLORS.text}">${escapeXml(axisLabel)}</text>`,
  );

  if (points.length === 0) {
    out.push(`<text x="${px(left + plotWidth / 2)}" y="${px(top + plotHeight / 2)}" text-anchor="middle" font-size="13" fill="${COLORS.muted}">no experiments yet</text>`);
  } else if (measured.length === 0) {
    out.push(`<text x="${px(left + plotWidth / 2)}" y="${px(top + plotHeight / 2)}" text-anchor="middle" font-size="13" fill="${COLORS.muted}">no experiment was measured</text>`);
  }

  // The parent line: what every point was compared with, as measured beside it.
  if (measured.length > 0) {
    const y = px(sy(0));
    out.push(`<line class="parent-line" x1="${px(left)}" x2="${px(left + plotWidth)}" y1="${y}" y2="${y}" stroke="${COLORS.baseline}" stroke-width="1.5" stroke-dasharray="5 3" opacity="0.8"/>`);
  }

  // Intervals under the markers, cut at the plot's edges.
  out.push(`<g class="intervals" clip-path="url(#autoloop-plot)" stroke="${COLORS.interval}" stroke-width="1.5" stroke-linecap="round">`);
  for (const point of points) {
    if (!point.bar) continue;
    const x = px(sx(point.record.experiment));
    out.push(`<line class="interval" data-experiment="${point.record.experiment}" x1="${x}" x2="${x}" y1="${px(sy(point.bar.low))}" y2="${px(sy(point.bar.high))}"/>`);
  }
  out.push('</g>');

  // Markers: discarded first so that kept points and the baseline stay on top.
  const order: Point['kind'][] = ['discard', 'held', 'invalid', 'keep', 'baseline'];
  out.push('<g class="markers">');
  for (const kind of order) {
    for (const point of points.filter((p) => p.kind === kind)) out.push(marker(point));
  }
  out.push('</g>');

  // Hypotheses of kept points, slanted toward the worse side.
  if (options.annotate !== false) {
    // A white halo keeps labels readable where they cross markers or lines.
    out.push(
      `<g class="annotations" clip-path="url(#autoloop-plot)" font-size="10" fill="${COLORS.text}" stroke="#ffffff" stroke-width="3" stroke-linejoin="round" paint-order="stroke">`,
    );
    out.push(...annotationLabels(points.filter((p) => (p.kind === 'keep' || p.kind === 'baseline') && p.y !== null)));
    out.push('</g>');
  }

  out.push(legend(left, 73, { held: points.some((p) => p.kind === 'held'), invalid: hasInvalid, interval: points.some((p) => p.bar !== null) }));
  out.push('</svg>');
  return `${out.join('\n')}\n`;

  function annotationLabels(annotated: Point[]): string[] {
    const angle = goal === 'minimize' ? -ANNOTATION_ANGLE : ANNOTATION_ANGLE;
    const sin = Math.sin((ANNOTATION_ANGLE * Math.PI) / 180);
    const cos = Math.cos((ANNOTATION_ANGLE * Math.PI) / 180);
    const slanted: string[] = [];
    const level: { text: string; x: number; y: number }[] = [];
    let previous: { x: number; y: number } | null = null;
    for (const { record, y: change, kind } of annotated) {
      const text = kind === 'baseline' ? 'baseline' : truncate(record.description, ANNOTATION_CHARS);
      if (!text) continue;
      const x = sx(record.experiment);
      const y = clampY(sy(change!));
      if (x + 7 + textWidth(text, 10) * cos > left + plotWidth) {
        // It would run off the right edge: level text ending at the point, on the worse side.
        level.push({ text, x: x - 8, y: goal === 'minimize' ? y - 8 : y + 15 });
        continue;
      }
      const lx = x + 7;
      const ly = goal === 'minimize' ? y - 7 : y + 14;
      // Slanted labels are parallel lines: skip one that would sit on top of the previous one.
      if (previous && Math.abs((lx - previous.x) * sin + (goal === 'minimize' ? 1 : -1) * (ly - previous.y) * cos) < ANNOTATION_GAP) continue;
      previous = { x: lx, y: ly };
      slanted.push(`<text class="annotation" transform="translate(${px(lx)} ${px(ly)}) rotate(${angle})" opacity="0.85">${escapeXml(text)}</text>`);
    }
    // Level labels near the right edge: the latest wins, earlier ones that would overlap it are dropped.
    const placed: { x: number; y: number; start: number }[] = [];
    const levelText: string[] = [];
    for (const label of level.reverse()) {
      const start = label.x - textWidth(label.text, 10);
      if (placed.some((p) => Math.abs(p.y - label.y) < ANNOTATION_GAP && start < p.x && label.x > p.start)) continue;
      placed.push({ x: label.x, y: label.y, start });
      levelText.push(`<text class="annotation" x="${px(label.x)}" y="${px(label.y)}" text-anchor="end" opacity="0.85">${escapeXml(label.text)}</text>`);
    }
    return [...slanted, ...levelText.reverse()];
  }

  /** What a marker's tooltip says: the figures as the progress line gives them, why, and the hypothesis. */
  function tooltipText(point: Point): string {
    const { record, compared } = point;
    const value = measuredValue(record);
    const why = experimentWhy(record);
    if (value === null || point.kind === 'invalid') return `#${record.experiment} ${record.status}: no value${why ? `: ${why}` : ''} — ${record.description}`;
    let figures = `${name} = ${formatNumber(value, 6)}`;
    if (compared.parent !== null) {
      const where = compared.parentSource === 'paired' ? 'in this experiment' : compared.parentSource === 'cached' ? 'measured earlier (cached)' : 'as kept';
      figures += ` vs parent ${formatNumber(compared.parent, 6)} ${where}`;
    }
    if (compared.deltaRelative !== null) figures += ` (${formatPercent(compared.deltaRelative)}, ${formatRelativeInterval(compared.interval, compared.parent)})`;
    return `#${record.experiment} ${point.kind === 'baseline' ? 'baseline' : record.status}: ${figures}${why ? `: ${why}` : ''} — ${record.description}`;
  }

  function marker(point: Point): string {
    const { record, y: change, kind } = point;
    const x = sx(record.experiment);
    const tooltip = `<title>${escapeXml(truncate(tooltipText(point), 400))}</title>`;
    const data = `data-experiment="${record.experiment}"`;
    if (kind === 'invalid') {
      const s = 4;
      const X = px(x - s);
      const X2 = px(x + s);
      const Y = px(worseEdge - s);
      const Y2 = px(worseEdge + s);
      return `<g class="marker marker-invalid" ${data} stroke="${COLORS.invalid}" stroke-width="2" stroke-linecap="round">${tooltip}<line x1="${X}" y1="${Y}" x2="${X2}" y2="${Y2}"/><line x1="${X}" y1="${Y2}" x2="${X2}" y2="${Y}"/></g>`;
    }
    const rawY = sy(change!);
    const y = clampY(rawY);
    if (kind === 'baseline') {
      const s = 6.5;
      return `<path class="marker marker-baseline" ${data} d="M${px(x)} ${px(y - s)} L${px(x + s)} ${px(y)} L${px(x)} ${px(y + s)} L${px(x - s)} ${px(y)} Z" fill="${COLORS.baseline}" stroke="#ffffff" stroke-width="1.5">${tooltip}</path>`;
    }
    if (kind === 'keep') {
      return `<circle class="marker marker-keep" ${data} cx="${px(x)}" cy="${px(y)}" r="5" fill="${COLORS.keep}" stroke="${COLORS.keepStroke}" stroke-width="1.2">${tooltip}</circle>`;
    }
    const stroke = kind === 'held' ? COLORS.held : COLORS.discard;
    if (y !== rawY) {
      // Off the scale: a hollow triangle on the edge, pointing the way the value lies.
      const baseY = rawY < top ? y + 8 : y - 8;
      return `<path class="marker marker-${kind}" data-offscale="true" ${data} d="M${px(x)} ${px(y)} L${px(x + 5)} ${px(baseY)} L${px(x - 5)} ${px(baseY)} Z" fill="#ffffff" stroke="${stroke}" stroke-width="1.5">${tooltip}</path>`;
    }
    return `<circle class="marker marker-${kind}" ${data} cx="${px(x)}" cy="${px(y)}" r="4" fill="#ffffff" stroke="${stroke}" stroke-width="1.5">${tooltip}</circle>`;
  }
}

/** The legend: one row under the explanation, starting at the plot's left edge; the optional items only when the chart has them. */
function legend(leftEdge: number, y: number, has: { held: boolean; invalid: boolean; interval: boolean }): string {
  type Item = { label: string; symbol: (x: number, y: number) => string };
  const items: Item[] = [
    { label: 'baseline', symbol: (x, y) => `<path d="M${x} ${y - 5} L${x + 5} ${y} L${x} ${y + 5} L${x - 5} ${y} Z" fill="${COLORS.baseline}"/>` },
    { label: 'kept', symbol: (x, y) => `<circle cx="${x}" cy="${y}" r="4.5" fill="${COLORS.keep}" stroke="${COLORS.keepStroke}"/>` },
    { label: 'discarded', symbol: (x, y) => `<circle cx="${x}" cy="${y}" r="4" fill="#ffffff" stroke="${COLORS.discard}" stroke-width="1.5"/>` },
  ];
  if (has.held) items.push({ label: 'better, not kept', symbol: (x, y) => `<circle cx="${x}" cy="${y}" r="4" fill="#ffffff" stroke="${COLORS.held}" stroke-width="1.5"/>` });
  if (has.invalid) {
    items.push({
      label: 'crash/invalid',
      symbol: (x, y) => `<path d="M${x - 4} ${y - 4} L${x + 4} ${y + 4} M${x - 4} ${y + 4} L${x + 4} ${y - 4}" stroke="${COLORS.invalid}" stroke-width="2" stroke-linecap="round"/>`,
    });
  }
  if (has.interval) items.push({ label: 'interval', symbol: (x, y) => `<path d="M${x} ${y - 6} V${y + 6}" stroke="${COLORS.interval}" stroke-width="1.5" stroke-linecap="round"/>` });
  items.push({
    label: 'parent (0%)',
    symbol: (x, y) => `<path d="M${x - 8} ${y} H${x + 8}" stroke="${COLORS.baseline}" stroke-width="1.5" stroke-dasharray="5 3"/>`,
  });
  const widths = items.map((item) => 22 + textWidth(item.label, 11) + 14);
  let x = leftEdge - 8;
  const parts = ['<g class="legend" font-size="11">'];
  items.forEach((item, i) => {
    const cx = Math.round(x + 8);
    parts.push(item.symbol(cx, y), `<text x="${Math.round(x + 20)}" y="${y}" dy="0.35em" fill="${COLORS.text}">${escapeXml(item.label)}</text>`);
    x += widths[i]!;
  });
  parts.push('</g>');
  return parts.join('');
}
