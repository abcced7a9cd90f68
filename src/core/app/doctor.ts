/**
 * `/optimize doctor`: whether the default branch has the oversight autoloop relies on (its gate required and bound
 * to this App, a human approval, no bypass for the App), whether the workflow is there with the right triggers, and
 * whether the config validates. Pure: the App reads the API and passes what it found; this module judges and renders.
 */
import { parse as parseYaml } from 'yaml';
import { code, fenced } from '../render/markdown.js';
import { GATE_CHECK_NAME, WORKFLOW_FILE, WORKFLOW_PATH } from '../protocol/protocol.js';

/** What the App found. `null` anywhere means it could not tell (a missing permission, a feature the plan lacks). */
export interface DoctorInput {
  /** The `autoloop/gate` check: required on the default branch, and only when reported by this App. */
  gateCheck: { required: boolean | null; boundToApp: boolean | null };
  /** Approving reviews a merge into the default branch needs. */
  approvals: number | null;
  /**
   * Whether an approval counts only for the latest push (stale approvals dismissed, or the last push approved):
   * the App keeps adding kept experiments to a run pull request after a human may have approved it.
   */
  freshApproval?: boolean | null;
  /** The rules on a run branch (`autoloop/<issue>/run`) that would refuse the App's fast-forwards; `undefined`: not asked. */
  runBranch?: { name: string; blockers: string[] | null };
  /** Whether the App may bypass those rules (a ruleset's bypass list, or protection's bypass allowances). */
  appCanBypass: boolean | null;
  workflow: WorkflowTriggers;
  config: { valid: boolean; errors: string[] };
  /** The default branch's name, for the text. */
  branch?: string;
}

export interface WorkflowTriggers {
  exists: boolean;
  dispatch: boolean;
  pullRequest: boolean;
  /** `pull_request_target` runs pull requests' code with the base repository's secrets and a write token. */
  pullRequestTarget?: boolean;
}

export interface Finding {
  /** true: fine; false: fix it; null: could not tell. */
  ok: boolean | null;
  text: string;
  /** What to do about it, when it is not fine. */
  fix?: string;
  /** One of the checks that keep a kept change from reaching the default branch unreviewed. */
  oversight?: boolean;
}

export interface Diagnosis {
  ok: boolean;
  findings: Finding[];
  markdown: string;
}

const GATE = `\`${GATE_CHECK_NAME}\``;
const RULES_HINT = 'In Settings → Rules → Rulesets (or Settings → Branches), for the default branch';

/** Judges what was found: one finding per item, and the Markdown checklist the App answers with. */
export function diagnose(input: DoctorInput): Diagnosis {
  const findings: Finding[] = [];
  const { required, boundToApp } = input.gateCheck;
  findings.push({
    oversight: true,
    ok: required,
    text:
      required === true
        ? `The status check ${GATE} is required on the default branch.`
        : required === false
          ? `The status check ${GATE} is not required on the default branch: a run pull request could be merged whatever it measured.`
          : `Could not tell whether the status check ${GATE} is required (the App may not read the branch's rules or protection).`,
    ...(required === true ? {} : { fix: `${RULES_HINT}, require the status check ${GATE} with this App as its source.` }),
  });
  // Bound only matters once it is required; unrequired, the previous item already fails.
  const bound = required === false ? false : boundToApp;
  findings.push({
    oversight: true,
    ok: bound,
    text:
      bound === true
        ? `The required ${GATE} must come from this App.`
        : required === false
          ? `No required ${GATE} check is bound to this App.`
          : bound === false
            ? `The required ${GATE} is not bound to this App: any app, or a workflow with a write token, could report it.`
            : `Could not tell whether the required ${GATE} is bound to this App.`,
    ...(bound === true ? {} : { fix: `${RULES_HINT}, set the source of the required check ${GATE} to this App (not "any source").` }),
  });
  const { approvals } = input;
  findings.push({
    oversight: true,
    ok: approvals === null ? null : approvals >= 1,
    text:
      approvals === null
        ? 'Could not tell whether merging into the default branch needs an approving review.'
        : approvals >= 1
          ? `Merging into the default branch needs ${approvals} approving review${approvals === 1 ? '' : 's'}.`
          : 'Merging into the default branch needs no approving review: nobody has to look at what a run kept.',
    ...(approvals !== null && approvals >= 1 ? {} : { fix: `${RULES_HINT}, require a pull request before merging with at least 1 approving review.` }),
  });
  if (input.freshApproval !== undefined && approvals !== null && approvals >= 1) {
    const fresh = input.freshApproval;
    findings.push({
      // Unknown is not warned of at a run's start (classic protection needs a permission the App lacks).
      oversight: fresh === false,
      ok: fresh,
      text:
        fresh === null
          ? 'Could not tell whether an approval is dismissed when new commits are pushed.'
          : fresh
            ? 'An approval counts only for the latest push: experiments kept after a review need another.'
            : 'An approval stays valid when new commits are pushed: experiments the App keeps after a review reach the default branch unreviewed.',
      ...(fresh ? {} : { fix: `${RULES_HINT}, turn on "Dismiss stale pull request approvals when new commits are pushed" (or "Require approval of the most recent reviewable push").` }),
    });
  }
  const bypass = input.appCanBypass;
  // With no gate and no review required there is nothing to bypass: the items above already fail.
  const nothingToBypass = bypass === null && required === false && approvals === 0;
  findings.push({
    oversight: !nothingToBypass,
    ok: bypass === null ? null : !bypass,
    text:
      bypass === null
        ? nothingToBypass
          ? 'No rules on the default branch for the App to bypass.'
          : 'Could not tell whether the App can bypass the default branch\'s rules (the App may not read them).'
        : bypass
          ? 'The App can bypass the default branch\'s rules: it could merge without the gate or a review.'
          : 'The App cannot bypass the default branch\'s rules.',
    ...(bypass === false
      ? {}
      : { fix: `${bypass ? 'Remove' : 'Make sure'} this App ${bypass ? 'from' : 'is not on'} the bypass list of the default branch's rulesets (and ${bypass ? 'from' : 'not in'} "Allow specified actors to bypass required pull requests").` }),
  });

  if (input.runBranch) {
    const { name, blockers } = input.runBranch;
    findings.push({
      ok: blockers === null ? null : blockers.length === 0,
      text:
        blockers === null
          ? `Could not tell whether rules on ${code(name)} let the App move it.`
          : blockers.length === 0
            ? `No rule on ${code(name)} stops the App from creating it and fast-forwarding it to kept experiments.`
            : `Rules on ${code(name)} would refuse the App's updates of the run branch (${blockers.map(code).join(', ')}): runs could not start or keep anything.`,
      ...(blockers === null || blockers.length === 0 ? {} : { fix: 'In Settings → Rules → Rulesets, exclude `autoloop/**` from those rulesets, or add this App to their bypass list.' }),
    });
  }

  const { workflow } = input;
  findings.push({
    ok: workflow.exists,
    text: workflow.exists ? `The workflow \`${WORKFLOW_PATH}\` exists.` : `The workflow \`${WORKFLOW_PATH}\` is missing on the default branch.`,
    ...(workflow.exists ? {} : { fix: `Copy \`examples/workflows/${WORKFLOW_FILE}\` from autoloop to \`${WORKFLOW_PATH}\` on the default branch.` }),
  });
  if (workflow.exists) {
    findings.push({
      ok: workflow.dispatch,
      text: workflow.dispatch ? 'It runs on `workflow_dispatch` (proposals).' : 'It does not run on `workflow_dispatch`: the App cannot start proposals.',
      ...(workflow.dispatch ? {} : { fix: 'Add `workflow_dispatch` (with the inputs `run`, `experiment` and `parent-sha`) to its `on:`.' }),
    });
    findings.push({
      ok: workflow.pullRequest,
      text: workflow.pullRequest ? 'It runs on `pull_request` (evaluations).' : 'It does not run on `pull_request`: experiments are never evaluated.',
      ...(workflow.pullRequest ? {} : { fix: 'Add `pull_request` to its `on:`.' }),
    });
    if (workflow.pullRequestTarget) {
      findings.push({
        ok: false,
        text: 'It runs on `pull_request_target`, which runs pull requests\' code with the repository\'s secrets and a write token.',
        fix: 'Remove `pull_request_target`; evaluations run on `pull_request` with a read-only token.',
      });
    }
  }

  const { config } = input;
  findings.push({
    ok: config.valid,
    text: config.valid ? 'The config `.github/autoloop.yml` is valid.' : 'The config `.github/autoloop.yml` is not valid.',
    ...(config.valid ? {} : { fix: 'Fix the errors below on the default branch.' }),
  });

  const ok = findings.every((finding) => finding.ok === true);
  const passing = findings.filter((finding) => finding.ok === true).length;
  const where = input.branch ? ` (default branch ${code(input.branch)})` : '';
  const lines = [
    `**autoloop doctor**${where}: ${ok ? 'all checks pass.' : `${passing} of ${findings.length} checks pass.`}`,
    '',
    ...findings.map(renderFinding),
  ];
  if (!config.valid && config.errors.length > 0) lines.push('', fenced(config.errors.join('\n'), 'text'));
  return { ok, findings, markdown: `${lines.join('\n')}\n` };
}

/**
 * The oversight items that fail or could not be confirmed, for the first status comment of a run started without
 * them. Unknowns count: classic branch protection needs the `administration` permission the App does not ask for.
 */
export function oversightWarnings(diagnosis: Pick<Diagnosis, 'findings'>): string[] {
  return diagnosis.findings.filter((finding) => finding.oversight && finding.ok !== true).map(renderFinding);
}

/** A block to append to the status comment when oversight is missing; empty when nothing is. */
export function renderOversightWarnings(warnings: readonly string[]): string {
  if (warnings.length === 0) return '';
  return [
    '',
    '> [!WARNING]',
    '> **Oversight is missing on the default branch, or could not be confirmed.** What this run keeps could be merged without the checks autoloop relies on. Comment `/optimize doctor` for the full check.',
    '>',
    ...warnings.map((warning) => `> ${warning}`),
    '',
  ].join('\n');
}

function renderFinding(finding: Finding): string {
  const mark = finding.ok === true ? '✅' : finding.ok === false ? '❌' : '❔';
  return `- ${mark} ${finding.text}${finding.fix ? ` ${finding.fix}` : ''}`;
}

/** The triggers of a workflow file; `null` text means the file does not exist. Unparseable YAML has no triggers. */
export function workflowTriggers(text: string | null): WorkflowTriggers {
  if (text === null) return { exists: false, dispatch: false, pullRequest: false };
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch {
    return { exists: true, dispatch: false, pullRequest: false };
  }
  const on = typeof document === 'object' && document !== null ? (document as Record<string, unknown>).on : undefined;
  const events = new Set<string>(
    typeof on === 'string'
      ? [on]
      : Array.isArray(on)
        ? on.filter((event): event is string => typeof event === 'string')
        : typeof on === 'object' && on !== null
          ? Object.keys(on)
          : [],
  );
  return {
    exists: true,
    dispatch: events.has('workflow_dispatch'),
    pullRequest: events.has('pull_request'),
    ...(events.has('pull_request_target') ? { pullRequestTarget: true } : {}),
  };
}

// ------------------------------------------------------------------------------------------------
// From the API's answers to the doctor's input

/** A rule of the branch-rules endpoint (the gateway's `BranchRule`). */
export interface RuleLike {
  type: string;
  rulesetId: number | null;
  statusChecks?: { context: string; integrationId: number | null }[];
  requiredApprovals?: number;
  freshApproval?: boolean;
}

/** Classic branch protection (the gateway's `BranchProtectionInfo`). */
export interface ProtectionLike {
  checks: { context: string; appId: number | null }[];
  requiredApprovals: number;
  freshApproval?: boolean;
  bypassApps: string[];
}

/** What the API said; `'unknown'` where the App could not read it, `null` protection where the branch has none. */
export interface OversightSources {
  rules: RuleLike[] | 'unknown';
  /** The rulesets with the App's bypass (`current_user_can_bypass`); `undefined` when not asked. */
  rulesets?: { id: number; currentUserCanBypass: string | null }[] | 'unknown';
  protection: ProtectionLike | null | 'unknown';
  /** This App's id and slug; unknown ids leave "bound to this App" unknown. */
  app: { id: number | null; slug: string | null };
}

/** The rulesets whose bypass list matters: those the gate and review rules come from. */
export function relevantRulesetIds(rules: RuleLike[] | 'unknown'): number[] {
  if (rules === 'unknown') return [];
  const ids = rules
    .filter((rule) => rule.type === 'pull_request' || (rule.statusChecks ?? []).some((check) => check.context === GATE_CHECK_NAME))
    .flatMap((rule) => (rule.rulesetId === null ? [] : [rule.rulesetId]));
  return [...new Set(ids)];
}

/** The oversight part of the doctor's input, from the rules, rulesets and protection of the default branch. */
export function oversightOf(sources: OversightSources): Pick<DoctorInput, 'gateCheck' | 'approvals' | 'appCanBypass' | 'freshApproval'> {
  const { rules, protection, app } = sources;
  const ruleGates = rules === 'unknown' ? [] : rules.flatMap((rule) => (rule.statusChecks ?? []).filter((check) => check.context === GATE_CHECK_NAME).map((check) => check.integrationId));
  const protectionGates = protection === 'unknown' || protection === null ? [] : protection.checks.filter((check) => check.context === GATE_CHECK_NAME).map((check) => check.appId);
  const sourcesOfGate = [...ruleGates, ...protectionGates];
  const anyUnknown = rules === 'unknown' || protection === 'unknown';
  const required = sourcesOfGate.length > 0 ? true : anyUnknown ? null : false;
  // Every required check must pass: one of them bound to this App is enough for the App's verdict to be needed.
  const boundToApp =
    sourcesOfGate.length === 0 ? null : app.id === null ? null : sourcesOfGate.some((source) => source === app.id);

  const ruleApprovals = rules === 'unknown' ? [] : rules.flatMap((rule) => (rule.type === 'pull_request' ? [rule.requiredApprovals ?? 0] : []));
  const protectionApprovals = protection === 'unknown' || protection === null ? [] : [protection.requiredApprovals];
  const most = Math.max(0, ...ruleApprovals, ...protectionApprovals);
  const approvals = most > 0 ? most : anyUnknown ? null : 0;
  // Any source that dismisses stale approvals (or wants the last push approved) makes an old approval not enough.
  const freshSources = [
    ...(rules === 'unknown' ? [] : rules.filter((rule) => rule.type === 'pull_request').map((rule) => rule.freshApproval === true)),
    ...(protection === 'unknown' || protection === null || protection.requiredApprovals === 0 ? [] : [protection.freshApproval === true]),
  ];
  const freshApproval = freshSources.includes(true) ? true : anyUnknown ? null : false;

  const relevant = relevantRulesetIds(rules);
  let appCanBypass: boolean | null = null;
  const protectionBypass = protection !== 'unknown' && protection !== null && app.slug !== null && protection.bypassApps.includes(app.slug);
  const rulesets = sources.rulesets;
  const bypasses = relevant.map((id) => {
    if (rulesets === undefined || rulesets === 'unknown') return null;
    const value = rulesets.find((ruleset) => ruleset.id === id)?.currentUserCanBypass ?? null;
    return value === null ? null : value !== 'never';
  });
  if (protectionBypass || bypasses.includes(true)) appCanBypass = true;
  else if (bypasses.includes(null)) appCanBypass = null;
  else if (relevant.length > 0 || (protection !== 'unknown' && protection !== null && app.slug !== null)) appCanBypass = false;
  return { gateCheck: { required, boundToApp }, approvals, appCanBypass, freshApproval };
}

/**
 * Rule types that refuse the App's own updates of a run branch: creating it, moving it (even by fast-forward, with
 * `update`), commits without a verified signature (the Action's are not signed), or updates that must go through
 * a pull request, checks or a deployment. `non_fast_forward` and `required_linear_history` do not matter: the App
 * only ever fast-forwards. (REST: "Get rules for a branch"; rule types as the rulesets docs list them.)
 */
const RUN_BRANCH_BLOCKERS = new Set(['creation', 'update', 'required_signatures', 'pull_request', 'required_status_checks', 'required_deployments', 'merge_queue']);

/** The rules on a run branch that would refuse the App, unless the App may bypass their ruleset; null when unknown. */
export function runBranchBlockers(rules: RuleLike[] | 'unknown', rulesets?: { id: number; currentUserCanBypass: string | null }[] | 'unknown'): string[] | null {
  if (rules === 'unknown') return null;
  const bypassable = (id: number | null) =>
    id !== null && rulesets !== undefined && rulesets !== 'unknown' && rulesets.some((ruleset) => ruleset.id === id && ruleset.currentUserCanBypass === 'always');
  return [...new Set(rules.filter((rule) => RUN_BRANCH_BLOCKERS.has(rule.type) && !bypassable(rule.rulesetId)).map((rule) => rule.type))];
}
