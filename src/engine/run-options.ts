/** What the local loop is asked to do, and what it reports while it runs. */
import type { Config } from '../core/config/config-schema.js';
import type { ConfirmationRecord, ExperimentRecord, RunRecord } from '../core/ledger/records.js';
import type { Proposer } from '../core/propose/proposer.js';
import type { RunPaths } from './run-files.js';

/** What `runLoop` is asked to do. */
export interface RunOptions {
  /** Any directory inside the repository. */
  cwd: string;
  /** Config file; defaults to `.github/autoloop.yml` at the repository root. */
  configPath?: string;
  /** Names the run: branch `autoloop/<tag>/run`, files in `.autoloop/<tag>/`. */
  tag?: string;
  /** Commit the run starts from; defaults to HEAD. */
  base?: string;
  /** Continue the run named by `tag` (or the latest) from its ledger. */
  resume?: boolean;
  /** Overrides `budget.experiments`. */
  experiments?: number;
  /** Free-text goal for the proposer. */
  goal?: string;
  /** Keep improvements beyond `suspicious_effect` instead of leaving them for a human. */
  acceptSuspicious?: boolean;
  signal?: AbortSignal;
  onEvent?: (event: LoopEvent) => void;
  /**
   * What writes the candidates: a proposer, or how to make one from the run's config (the front ends pass
   * `createProposer`, which picks the one the config names). The engine never picks one itself.
   */
  proposer: Proposer | ((config: Config) => Proposer);
  /** Clock, for tests of the wall-time budget. */
  now?: () => number;
}

/** What the loop reports as it goes: the front ends print it (a terminal line, JSON lines, an Actions log). */
export type LoopEvent =
  /** `budgetWas`: a resumed run's budget when `--experiments` changed it. */
  /** `warnings`: what the config will do that a user likely does not want (see `configWarnings`). */
  /** `parallel`: experiments in flight at once (`localParallel`; 1 when absent). */
  | { type: 'start'; run: RunRecord; paths: RunPaths; resumed: boolean; nextExperiment: number; budget: number; budgetWas?: number; warnings?: string[]; parallel?: number }
  /** With experiments side by side, several start before the first of them is reported; they are reported in order. */
  | { type: 'experiment-start'; experiment: number }
  | { type: 'experiment'; record: ExperimentRecord; best: number | null; baseline: number | null; keepRate: number; elapsedMs: number; budget: number }
  /** The run head is being measured against the base once more (`evaluate.confirm`); nothing follows when nothing was kept. */
  | { type: 'confirmation-start' }
  | { type: 'confirmation'; record: ConfirmationRecord }
  /**
   * What an experiment is doing now, each time that changes: `propose`; `setup` or `check` of a side's worktree;
   * `run` number `run` of at most `runs` on a side (a deterministic metric, or a sequential measurement, stops
   * sooner). `experiment` is null for the confirmation (the run head against the base, at the end).
   */
  | { type: 'phase'; experiment: number | null; phase: 'propose' | 'setup' | 'check' | 'run'; side?: 'baseline' | 'candidate'; run?: number; runs?: number }
  | { type: 'stop'; reason: string };
