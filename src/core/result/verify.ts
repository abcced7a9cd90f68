import type { Config } from '../config/config-schema.js';
import { judgeUnderConfig } from '../judge/judge.js';
import { protectedEntries, protectedFilesHash, type TreeEntry } from '../scope/protected.js';
import type { Judgement, ScopeViolation } from '../ledger/records.js';
import type { ResultDocument } from './result.js';
import { checkScope, describeViolations, scopeRules, type FileChange } from '../scope/scope.js';

/** What the App knows about an experiment pull request from GitHub itself, not from the artifact. */
export interface VerifiedFacts {
  /** The pull request's current head and base SHAs. */
  headSha: string;
  baseSha: string;
  /** Files changed between base and head, from GitHub's compare API. */
  changes: FileChange[];
  /** The protected-files hash of the base commit, from GitHub's tree API ({@link protectedHashOfTree}). */
  protectedHash: string;
}

export type Verification =
  | { ok: true; judgement: Judgement }
  | { ok: false; reason: string; scopeViolations: ScopeViolation[] };

/** The protected-files hash of a tree, as `ProtectedFiles` computes it from a checkout. */
export function protectedHashOfTree(tree: ReadonlyMap<string, string>, config: Config, configFile: string): string {
  const entries = [...tree].map(([path, object]): TreeEntry => ({ path, object }));
  return protectedFilesHash(protectedEntries(entries, scopeRules(config, configFile)));
}

/**
 * Checks a result document against what GitHub says, then judges it again from its raw samples with
 * the config the App trusts. The artifact's own verdict is never used: a document that measured
 * another commit, reports samples its runs do not back, or comes from an evaluator other than the
 * base's protected files, is rejected.
 */
export function verifyResult(document: ResultDocument, facts: VerifiedFacts, config: Config, configFile: string): Verification {
  const fail = (reason: string, scopeViolations: ScopeViolation[] = []): Verification => ({ ok: false, reason, scopeViolations });
  if (document.head !== facts.headSha) return fail(`the result measured ${document.head.slice(0, 7)}, but the pull request head is ${facts.headSha.slice(0, 7)}`);
  if (document.base !== facts.baseSha) return fail(`the result measured against ${document.base.slice(0, 7)}, but the pull request base is ${facts.baseSha.slice(0, 7)}`);
  if (document.metric.name !== config.metric.name) return fail(`the result reports ${document.metric.name}, but the config's metric is ${config.metric.name}`);

  const violations = checkScope(facts.changes, scopeRules(config, configFile));
  if (violations.length > 0) return fail(`out of scope: ${describeViolations(violations)}`, violations);
  if (document.protectedHash !== facts.protectedHash) return fail('the result was measured with other protected files (evaluator) than the base commit holds');

  // The samples must be exactly the valid runs' values, side by side and in order.
  const names = [config.metric.name, ...config.guards.map((g) => g.name)];
  for (const side of ['baseline', 'candidate'] as const) {
    const runs = document.runs.filter((run) => run.side === side && run.ok);
    for (const name of names) {
      const fromRuns = runs.map((run) => run.metrics[name]);
      const samples = document.samples[side][name] ?? [];
      if (fromRuns.length !== samples.length || fromRuns.some((value, i) => value !== samples[i])) {
        return fail(`the ${side} samples of ${name} do not match the runs they claim to come from`);
      }
    }
  }
  const judgement = judgeUnderConfig(config, (side, name) => document.samples[side][name] ?? [], document.baseline === 'paired');
  return { ok: true, judgement };
}

/** GitHub's compare-API file status as a scope change. */
export function changeFromGitHub(file: { path: string; status: string; previousPath?: string }): FileChange {
  if (file.status === 'added') return { change: 'added', path: file.path };
  if (file.status === 'removed') return { change: 'deleted', path: file.path };
  if (file.status === 'renamed') return { change: 'renamed', path: file.path, ...(file.previousPath ? { oldPath: file.previousPath } : {}) };
  return { change: 'modified', path: file.path };
}
