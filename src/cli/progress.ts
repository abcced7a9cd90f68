import { experimentLine, LINE_WIDTH } from '../core/render/progress-line.js';
import { confirmationFigures, confirmationSentence } from '../core/render/report.js';
import { plural } from '../core/render/markdown.js';
import { formatDuration, formatNumber, formatPercent } from '../core/config/units.js';
import type { LoopEvent } from '../engine/run-options.js';

/** The live line's stand-in experiment number while the run head is confirmed. */
const CONFIRMING = -1;

/** Where the CLI writes; a TTY gets a live line, anything else plain lines. */
export interface Output {
  write(text: string): void;
  isTTY: boolean;
  /** The terminal's width (a TTY stream's `columns`): lines are wrapped, and the live line cut, to fit it. Unknown: 100 for the lines, the live line uncut. */
  columns?: number;
}

/**
 * Renders loop events for people: a permanent line per experiment and, on a terminal, a live
 * status line (spinner, elapsed time) while one runs, or while several run side by side.
 */
export class ProgressPrinter {
  private metricName = '';
  /** The experiments in flight (or the confirmation), each with when it started. */
  private readonly running = new Map<number, number>();
  /** What each experiment in flight is doing (proposing, setup, check, run k of n), from the loop's phase events. */
  private readonly phases = new Map<number, string>();
  /** Experiments in flight at once (`budget.parallel` when the loop uses it). */
  private parallel = 1;
  /** The run's budget of experiments, from its start. */
  private budget: number | null = null;
  /** What the live line repeats from the last finished experiment. */
  private standing: { best: number | null; baseline: number | null; keepRate: number; budget: number; etaMs: number | null } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private durations: number[] = [];
  private wallTimeMs: number | null = null;
  private frame = 0;

  constructor(
    private readonly out: Output,
    private readonly now: () => number = Date.now,
  ) {}

  handle(event: LoopEvent, wallTimeMs?: number): void {
    if (wallTimeMs !== undefined) this.wallTimeMs = wallTimeMs;
    switch (event.type) {
      case 'start': {
        this.metricName = event.run.metric.name;
        this.parallel = event.parallel ?? 1;
        this.budget = event.budget;
        const goal = event.run.metric.goal === 'minimize' ? 'lower is better' : 'higher is better';
        this.out.write(
          `${event.resumed ? 'Resuming' : 'Starting'} run ${event.run.tag} on ${event.run.branch} (${this.metricName}, ${goal}), ` +
            `${plural(event.budget, 'experiment')}${event.budgetWas !== undefined ? ` (was ${event.budgetWas}; --experiments changed it)` : ''}` +
            `${this.parallel > 1 ? `, ${this.parallel} at a time` : ''}; ledger in ${event.paths.dir}\n`,
        );
        for (const warning of event.warnings ?? []) this.out.write(`Warning: ${warning}\n`);
        break;
      }
      case 'experiment-start':
        this.startLive(event.experiment);
        break;
      case 'phase': {
        const experiment = event.experiment ?? CONFIRMING;
        this.phases.set(experiment, phaseText(event));
        if (this.running.has(experiment)) this.drawLive();
        break;
      }
      case 'experiment': {
        this.running.delete(event.record.experiment);
        this.phases.delete(event.record.experiment);
        this.clearLine();
        if (event.record.experiment > 0) this.durations.push(event.record.durations.totalMs);
        const remaining = event.budget - event.record.experiment;
        const etaMs = this.eta(remaining, event.elapsedMs);
        this.standing = { best: event.best, baseline: event.baseline, keepRate: event.keepRate, budget: event.budget, etaMs };
        this.out.write(`${experimentLine(event, this.metricName, etaMs, this.width ?? LINE_WIDTH)}\n`);
        // Others still in flight: the live line comes back below the result.
        if (this.running.size > 0) this.drawLive();
        else this.stopTimer();
        break;
      }
      case 'confirmation-start':
        this.startLive(CONFIRMING);
        break;
      case 'confirmation':
        this.clearLive();
        this.out.write(`confirm  ${confirmationSentence(this.metricName, confirmationFigures(event.record))}\n`);
        break;
      case 'stop':
        this.clearLive();
        this.out.write(`Stopped: ${event.reason}\n`);
        break;
    }
  }

  /** Estimated time left: the average experiment time × experiments left (÷ those in flight at once), capped by the wall-time budget. */
  private eta(remaining: number, elapsedMs: number): number | null {
    if (remaining <= 0 || this.durations.length === 0) return remaining <= 0 ? 0 : null;
    const average = this.durations.reduce((a, b) => a + b, 0) / this.durations.length;
    const estimate = (average * remaining) / this.parallel;
    return this.wallTimeMs !== null ? Math.max(0, Math.min(estimate, this.wallTimeMs - elapsedMs)) : estimate;
  }

  /** Shows the live line while experiment `experiment` (or the confirmation) runs, with any others in flight, redrawn on a terminal. */
  private startLive(experiment: number): void {
    this.running.set(experiment, this.now());
    if (!this.out.isTTY) return;
    this.drawLive();
    if (this.timer) return;
    this.timer = setInterval(() => this.drawLive(), 250);
    this.timer.unref();
  }

  private drawLive(): void {
    if (this.running.size === 0 || !this.out.isTTY) return;
    const spinner = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏'[this.frame++ % 10];
    const experiments = [...this.running.keys()].sort((a, b) => a - b);
    const experiment = experiments[0]!;
    // Since the earliest start of those in flight.
    const since = Math.min(...this.running.values());
    const budget = this.standing?.budget ?? this.budget ?? '?';
    const doing = experiments.length > 1
      ? `experiments ${experiments.join(', ')}/${budget}`
      : experiment === 0 ? 'measuring the baseline' : experiment === CONFIRMING ? 'confirming: the run head against the base' : `experiment ${experiment}/${budget}`;
    // One experiment in flight: what it is doing now (with several, each would crowd the line).
    const phase = experiments.length === 1 ? this.phases.get(experiment) : undefined;
    const parts = [`${spinner} ${doing}${phase ? ` ${phase}` : ''} ${formatDuration(this.now() - since)}`];
    const standing = this.standing;
    if (standing?.best != null) {
      const vsBaseline = standing.baseline ? ` (${formatPercent((standing.best - standing.baseline) / Math.abs(standing.baseline))})` : '';
      parts.push(`best ${this.metricName} ${formatNumber(standing.best, 6)}${vsBaseline}`);
    }
    if (standing && experiment > 1) parts.push(`keep rate ${Math.round(standing.keepRate * 100)}%`);
    if (standing?.etaMs != null) parts.push(`~${formatDuration(standing.etaMs)} left`);
    // Wider than the terminal, the line would wrap and `\r` would redraw only its last row.
    const line = parts.join(' · ');
    const width = this.width;
    this.out.write(`\r\x1b[K${width !== null && line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
  }

  /** Characters a line may take on this terminal (one less than its width, so it never wraps by itself), null when unknown. */
  private get width(): number | null {
    const columns = this.out.columns;
    return typeof columns === 'number' && Number.isFinite(columns) && columns > 1 ? Math.floor(columns) - 1 : null;
  }

  /** Ends the live line: nothing is in flight any more. */
  private clearLive(): void {
    this.running.clear();
    this.phases.clear();
    this.stopTimer();
    this.clearLine();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private clearLine(): void {
    if (this.out.isTTY) this.out.write('\r\x1b[K');
  }
}

/** A phase event in words for the live line: `proposing`, `setup (candidate)`, `run 2 of up to 8 (baseline)`. */
function phaseText(event: Extract<LoopEvent, { type: 'phase' }>): string {
  const side = event.side ? ` (${event.side})` : '';
  if (event.phase === 'propose') return 'proposing';
  if (event.phase === 'run') return `run ${event.run ?? '?'}${event.runs ? ` of up to ${event.runs}` : ''}${side}`;
  return `${event.phase}${side}`;
}
