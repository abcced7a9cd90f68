/**
 * The run's progress as a Mermaid `xychart-beta` block, which GitHub renders inline in pull requests,
 * issues and comments, where an SVG file from the runner cannot be embedded.
 */
import { niceTicks } from './chart.js';
import type { Goal } from '../config/config-schema.js';
import type { ExperimentRecord, RunRecord } from '../ledger/records.js';
import { measuredValue, runningBest, sortExperiments } from './report.js';

/** Discarded values further than this many spans of the best line are drawn at the axis edge (as in the SVG chart). */
const OFFSCALE_SPANS = 1.5;

const plain = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 6, useGrouping: false });

/**
 * A number as xychart parses it: ~6 significant digits and never exponent notation, which its grammar
 * (`[+-]?\d+(\.\d+)?`) does not accept.
 */
export function mermaidNumber(value: number): string {
  const text = plain.format(value);
  return text === '-0' ? '0' : text;
}

/**
 * Text safe inside an xychart quoted title: its grammar has no escapes, so double quotes become single
 * quotes; backticks (a leading one starts a Markdown string, three end the enclosing code fence) become
 * single quotes too; line breaks become spaces.
 */
export function mermaidText(text: string): string {
  return text.replace(/["`]/g, "'").replace(/\s+/g, ' ').trim();
}

function list(values: readonly number[]): string {
  return `[${values.map(mermaidNumber).join(', ')}]`;
}

function experimentList(numbers: readonly number[]): string {
  return numbers.length === 1 ? `experiment ${numbers[0]}` : `experiments ${numbers.join(', ')}`;
}

/** One experiment of a chart: its number, its measured primary metric (null when none) and the best so far after it (null until known). */
export interface MermaidPoint {
  x: number;
  value: number | null;
  best: number | null;
}

/** What {@link renderMermaidSeries} draws: a title, the metric and its goal, and the points in x order. */
export interface MermaidSeries {
  title: string;
  name: string;
  goal: Goal;
  points: readonly MermaidPoint[];
}

/**
 * A fenced ```` ```mermaid ```` `xychart-beta` block: x is the experiment number, bars are each
 * experiment's measured primary metric, the line is the best so far; the y-axis is titled with the
 * metric and which way is better, over a round range around the best line and the measured values.
 *
 * xychart needs a number at every x, so an experiment without a value (crashed, invalid) has its bar
 * drawn at the best so far, and a discarded value far off the scale (as the SVG chart does) is drawn at
 * the axis edge; a caption line under the block names those experiments. Returns a one-line note
 * instead of a block when nothing was measured.
 */
export function renderMermaidChart(run: RunRecord, experiments: ExperimentRecord[]): string {
  const sorted = sortExperiments(experiments);
  const bests = runningBest(run, sorted);
  return renderMermaidSeries({
    title: `autoloop ${run.tag}: ${run.metric.name}`,
    name: run.metric.name,
    goal: run.metric.goal,
    points: sorted.map((record, index) => ({ x: record.experiment, value: measuredValue(record), best: bests[index]!.best })),
  });
}

/**
 * The chart of {@link renderMermaidChart} from plain points, for callers without ledger records (the
 * App's run state). Points are drawn in the order given; a non-finite value counts as not measured.
 */
export function renderMermaidSeries(series: MermaidSeries): string {
  const { name, goal, points } = series;
  const finiteOrNull = (value: number | null) => (value !== null && Number.isFinite(value) ? value : null);
  const bests = points.map((point) => finiteOrNull(point.best));
  const firstBest = bests.find((best) => best !== null) ?? null;
  const values = points.map((point) => finiteOrNull(point.value));
  const anyValue = values.find((value) => value !== null) ?? null;
  const fallback = firstBest ?? anyValue;
  if (fallback === null) return `_No measured ${name} to chart yet._\n`;

  // Before the first known best (only when the baseline failed) the line starts at the first best.
  const line = bests.map((best) => best ?? fallback);

  // y range: the best line always; measured values unless they are wild outliers.
  let low = Math.min(...line);
  let high = Math.max(...line);
  const span = high - low || Math.abs(high) * 0.1 || 1;
  for (const value of values) {
    if (value !== null && value >= low - OFFSCALE_SPANS * span && value <= high + OFFSCALE_SPANS * span) {
      low = Math.min(low, value);
      high = Math.max(high, value);
    }
  }
  // A margin, so that the bar of the lowest value still has a height (bars grow from the axis minimum).
  const margin = (high - low) * 0.06;
  const { ticks } = niceTicks(low - margin, high + margin, 5);
  const yMin = ticks[0]!;
  const yMax = ticks[ticks.length - 1]!;

  const unmeasured: number[] = [];
  const offScale: number[] = [];
  const bars = points.map((point, index) => {
    const value = values[index];
    if (value === null || value === undefined) {
      unmeasured.push(point.x);
      return line[index]!;
    }
    if (value < yMin || value > yMax) {
      offScale.push(point.x);
      return Math.min(yMax, Math.max(yMin, value));
    }
    return value;
  });

  const better = goal === 'minimize' ? 'lower' : 'higher';
  const caption = [`Bars: each experiment's \`${name}\`; line: the best so far (${better} is better).`];
  if (unmeasured.length) caption.push(`No value for ${experimentList(unmeasured)} (crashed or invalid): bar drawn at the best so far.`);
  if (offScale.length) caption.push(`${experimentList(offScale)} off the scale: bar drawn at the axis edge.`);

  return [
    '```mermaid',
    'xychart-beta',
    `  title "${mermaidText(series.title)}"`,
    `  x-axis "experiment" [${points.map((point) => point.x).join(', ')}]`,
    `  y-axis "${mermaidText(`${name} (${better} is better)`)}" ${mermaidNumber(yMin)} --> ${mermaidNumber(yMax)}`,
    `  bar ${list(bars)}`,
    `  line ${list(line)}`,
    '```',
    '',
    `<sub>${caption.join(' ')}</sub>`,
    '',
  ].join('\n');
}
