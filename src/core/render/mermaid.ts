/**
 * The run's progress as a Mermaid `xychart-beta` block, which GitHub renders inline in pull requests,
 * issues and comments, where an SVG file from the runner cannot be embedded. It plots what the SVG chart
 * plots (`progress-points.ts`): each experiment against its own parent, in percent.
 */
import { niceTicks } from './chart.js';
import type { Goal } from '../config/config-schema.js';
import type { ExperimentRecord, RunRecord } from '../ledger/records.js';
import { compoundedKept, ledgerProgress, progressRange, type ProgressPoint } from './progress-points.js';

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

/** A series of changes in percent: 4 significant digits are plenty, and the same rounding for the bars and the line. */
function percentList(values: readonly number[]): string {
  return `[${values.map((value) => mermaidNumber(Number(value.toPrecision(4)))).join(', ')}]`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function experimentList(numbers: readonly number[]): string {
  return numbers.length === 1 ? `experiment ${numbers[0]}` : `experiments ${numbers.join(', ')}`;
}

/** What {@link renderMermaidSeries} draws: the metric and its goal, and each experiment's {@link ProgressPoint} in x order. */
export interface MermaidSeries {
  name: string;
  goal: Goal;
  points: readonly ProgressPoint[];
}

/**
 * A fenced ```` ```mermaid ```` `xychart-beta` block plotting what the judge compared, as the SVG chart does: x is the
 * experiment number, each bar the candidate's change against its own parent as measured in that experiment, in percent
 * ({@link ledgerProgress}), and the line the kept changes compounded ({@link compoundedKept}), from 0% at the baseline.
 * A discarded candidate measured on a machine that had got faster is therefore drawn at its change against the parent
 * measured beside it, never below an absolute best measured at another time. The title and the y-axis say what is
 * plotted and which way is better; the range is round and encloses 0%, the line and the kept bars.
 *
 * xychart needs a number at every x, so an experiment without a value (crashed, invalid) has its bar drawn at 0%, and a
 * discarded change far off the scale (as the SVG chart does) is drawn at the axis edge; a caption under the block says
 * what the bars and the line are, which experiments were kept, and names those drawn so. Bars grow from the axis
 * minimum, so the caption says to read their tops. Returns a one-line note instead of a block when nothing was measured.
 */
export function renderMermaidChart(run: RunRecord, experiments: readonly ExperimentRecord[]): string {
  return renderMermaidSeries({ name: run.metric.name, goal: run.metric.goal, points: ledgerProgress(run, experiments).map(({ point }) => point) });
}

/**
 * The chart of {@link renderMermaidChart} from plain points, for callers without ledger records (the App's run state,
 * which has no intervals: xychart could not draw them anyway). Points are drawn in the order given; a non-finite change
 * counts as not measured.
 */
export function renderMermaidSeries(series: MermaidSeries): string {
  const { name, goal } = series;
  const points = series.points.map((point) => (point.change === null || Number.isFinite(point.change) ? point : { ...point, change: null, kind: 'invalid' as const }));
  if (!points.some((point) => point.change !== null)) return `_No measured ${name} to chart yet._\n`;

  const line = compoundedKept(points);
  const kept = points.filter((point) => point.kind === 'keep' && point.change !== null);
  const { low, high } = progressRange(
    [0, ...line, ...kept.map((point) => point.change!)],
    points.filter((point) => point.kind === 'discard' || point.kind === 'held').flatMap((point) => (point.change === null ? [] : [point.change])),
  );
  // A margin, so that the bar of the lowest value still has a height (bars grow from the axis minimum).
  const margin = (high - low) * 0.06;
  const { ticks } = niceTicks(low - margin, high + margin, 5);
  const yMin = ticks[0]!;
  const yMax = ticks[ticks.length - 1]!;

  const unmeasured: number[] = [];
  const offScale: number[] = [];
  const bars = points.map((point) => {
    if (point.change === null) {
      unmeasured.push(point.experiment);
      return 0;
    }
    if (point.change < yMin || point.change > yMax) {
      offScale.push(point.experiment);
      return Math.min(yMax, Math.max(yMin, point.change));
    }
    return point.change;
  });

  const better = goal === 'minimize' ? 'lower' : 'higher';
  const onBetterSide = (point: ProgressPoint) => point.change !== null && (goal === 'minimize' ? point.change < 0 : point.change > 0);
  const numbers = (kind: ProgressPoint['kind'], only: (point: ProgressPoint) => boolean = () => true) =>
    points.filter((point) => point.kind === kind && only(point)).map((point) => point.experiment);
  const caption = [
    `Bars: each experiment's change in \`${name}\` against its parent as measured in that experiment, in % (${better} is better; bars rise from the axis minimum: read their tops against 0%).`,
    'Line: the kept changes compounded, an estimate of the run head against the baseline.',
  ];
  const keptNumbers = kept.map((point) => point.experiment);
  caption.push(keptNumbers.length ? `Kept: ${experimentList(keptNumbers)}.` : 'None kept.');
  const held = numbers('held');
  if (held.length) caption.push(`Better but not kept (the table says why): ${experimentList(held)}.`);
  const noise = numbers('discard', onBetterSide);
  if (noise.length) caption.push(`Discarded on the better side of 0%, within the noise or below \`min_effect\`: ${experimentList(noise)}.`);
  if (unmeasured.length) caption.push(`No value for ${experimentList(unmeasured)} (crashed or invalid): bar drawn at 0%.`);
  if (offScale.length) caption.push(`${capitalize(experimentList(offScale))} off the scale: bar drawn at the axis edge.`);

  return [
    '```mermaid',
    'xychart-beta',
    `  title "${mermaidText(`${name}: % change vs parent (bars), kept compounded (line)`)}"`,
    `  x-axis "experiment" [${points.map((point) => point.experiment).join(', ')}]`,
    `  y-axis "${mermaidText(`% change in ${name} (${better} is better)`)}" ${mermaidNumber(yMin)} --> ${mermaidNumber(yMax)}`,
    `  bar ${percentList(bars)}`,
    `  line ${percentList(line)}`,
    '```',
    '',
    `<sub>${caption.join(' ')}</sub>`,
    '',
  ].join('\n');
}
