import type { BranchProtectionInfo, BranchRule, PullRequestInfo, RulesetInfo } from './github.js';

const record = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {});
const integer = (value: unknown): number | null => (typeof value === 'number' && Number.isInteger(value) ? value : null);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** One rule of the branch-rules endpoint, reduced to what the doctor reads. */
export function toBranchRule(value: unknown): BranchRule {
  const rule = record(value);
  const parameters = record(rule.parameters);
  const type = typeof rule.type === 'string' ? rule.type : '';
  const out: BranchRule = { type, rulesetId: integer(rule.ruleset_id) };
  if (type === 'required_status_checks') {
    out.statusChecks = list(parameters.required_status_checks).map((check) => ({
      context: String(record(check).context ?? ''),
      integrationId: integer(record(check).integration_id),
    }));
  }
  if (type === 'pull_request') {
    out.requiredApprovals = integer(parameters.required_approving_review_count) ?? 0;
    out.freshApproval = parameters.dismiss_stale_reviews_on_push === true || parameters.require_last_push_approval === true;
  }
  return out;
}

/** A ruleset of the rulesets endpoints, reduced to what the doctor reads. */
export function toRuleset(value: unknown): RulesetInfo {
  const ruleset = record(value);
  return {
    id: integer(ruleset.id) ?? 0,
    name: String(ruleset.name ?? ''),
    enforcement: String(ruleset.enforcement ?? ''),
    currentUserCanBypass: typeof ruleset.current_user_can_bypass === 'string' ? ruleset.current_user_can_bypass : null,
  };
}

/** A branch protection, reduced to what the doctor reads: required checks and their apps, approvals, bypassing apps. */
export function toBranchProtection(value: unknown): BranchProtectionInfo {
  const protection = record(value);
  const statusChecks = record(protection.required_status_checks);
  // `checks` names each check's source app; the older `contexts` (any source) is the fallback.
  const checks = Array.isArray(statusChecks.checks)
    ? statusChecks.checks.map((check) => ({ context: String(record(check).context ?? ''), appId: integer(record(check).app_id) }))
    : list(statusChecks.contexts).map((context) => ({ context: String(context), appId: null }));
  const reviews = protection.required_pull_request_reviews === undefined ? null : record(protection.required_pull_request_reviews);
  return {
    checks,
    requiredApprovals: reviews === null ? 0 : (integer(reviews.required_approving_review_count) ?? 1),
    freshApproval: reviews !== null && (reviews.dismiss_stale_reviews === true || reviews.require_last_push_approval === true),
    bypassApps: list(record(reviews?.bypass_pull_request_allowances).apps).flatMap((app) => {
      const slug = record(app).slug;
      return typeof slug === 'string' ? [slug] : [];
    }),
  };
}

/** The fields of a pull request both the list and the get endpoints return. */
export interface PullLike {
  number: number;
  html_url: string;
  state: string;
  merged_at: string | null;
  draft?: boolean;
  head: { ref: string; sha: string };
  base: { ref: string; sha: string };
  body: string | null;
  labels: { name?: string }[];
}

/** A pull request of the list or the get endpoint, as the gateway hands it out. */
export function toPullRequestInfo(pull: PullLike): PullRequestInfo {
  return {
    number: pull.number,
    url: pull.html_url,
    state: pull.state === 'closed' ? 'closed' : 'open',
    // `merged` is only on the single-PR endpoint; `merged_at` is on both.
    merged: pull.merged_at !== null,
    draft: pull.draft ?? false,
    head: { ref: pull.head.ref, sha: pull.head.sha },
    base: { ref: pull.base.ref, sha: pull.base.sha },
    body: pull.body ?? '',
    labels: pull.labels.flatMap((label) => (label.name === undefined ? [] : [label.name])),
  };
}
