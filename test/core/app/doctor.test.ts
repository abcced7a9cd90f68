import { describe, expect, it } from 'vitest';
import { diagnose, oversightOf, oversightWarnings, relevantRulesetIds, renderOversightWarnings, runBranchBlockers, workflowTriggers, type DoctorInput, type RuleLike } from '../../../src/core/app/doctor.js';

const APP = { id: 7, slug: 'autoloop' };

function healthy(overrides: Partial<DoctorInput> = {}): DoctorInput {
  return {
    gateCheck: { required: true, boundToApp: true },
    approvals: 1,
    appCanBypass: false,
    workflow: { exists: true, dispatch: true, pullRequest: true },
    config: { valid: true, errors: [] },
    ...overrides,
  };
}

const marks = (input: DoctorInput): (boolean | null)[] => diagnose(input).findings.map((f) => f.ok);

describe('diagnose', () => {
  it('passes a repository with all its oversight, and says so', () => {
    const result = diagnose(healthy({ branch: 'main' }));
    expect(result.ok).toBe(true);
    expect(result.findings).toHaveLength(8);
    expect(result.markdown).toMatch(/^\*\*autoloop doctor\*\* \(default branch `main`\): all checks pass\.\n/);
    expect(result.markdown).not.toMatch(/❌|❔/);
    expect(oversightWarnings(result)).toStrictEqual([]);
    expect(renderOversightWarnings([])).toBe('');
  });

  it('fails each missing piece with what to do', () => {
    const result = diagnose(
      healthy({ gateCheck: { required: false, boundToApp: null }, approvals: 0, appCanBypass: true, workflow: { exists: false, dispatch: false, pullRequest: false }, config: { valid: false, errors: ['a.yml:1: x: bad'] } }),
    );
    expect(result.ok).toBe(false);
    // Without the workflow file, its triggers are not listed.
    expect(result.findings.map((f) => f.ok)).toStrictEqual([false, false, false, false, false, false]);
    expect(result.markdown).toContain('0 of 6 checks pass');
    expect(result.markdown).toContain('require the status check `autoloop/gate` with this App as its source');
    expect(result.markdown).toContain('require a pull request before merging with at least 1 approving review');
    expect(result.markdown).toContain('Remove this App from the bypass list');
    expect(result.markdown).toContain('Copy `examples/workflows/autoloop.yml`');
    expect(result.markdown).toContain('```text\na.yml:1: x: bad\n```');
    expect(oversightWarnings(result)).toHaveLength(4);
  });

  it('fails "bound" for a gate required from another source, and leaves an unknown source unknown', () => {
    expect(marks(healthy({ gateCheck: { required: true, boundToApp: false } })).slice(0, 2)).toStrictEqual([true, false]);
    expect(marks(healthy({ gateCheck: { required: true, boundToApp: null } })).slice(0, 2)).toStrictEqual([true, null]);
    expect(diagnose(healthy({ gateCheck: { required: true, boundToApp: false } })).markdown).toContain('❌ The required `autoloop/gate` is not bound to this App');
  });

  it('marks what it could not read ❔, and warns a run that it could not confirm it', () => {
    const result = diagnose(healthy({ gateCheck: { required: null, boundToApp: null }, approvals: null, appCanBypass: null }));
    expect(result.findings.slice(0, 4).map((f) => f.ok)).toStrictEqual([null, null, null, null]);
    expect(result.markdown.match(/❔/g)).toHaveLength(4);
    expect(result.ok).toBe(false);
    expect(oversightWarnings(result)).toHaveLength(4);
    expect(oversightWarnings(result)[0]).toMatch(/^- ❔ Could not tell whether the status check/);
  });

  it('does not ask about a bypass when there is nothing to bypass', () => {
    const result = diagnose(healthy({ gateCheck: { required: false, boundToApp: null }, approvals: 0, appCanBypass: null }));
    expect(result.markdown).toContain('❔ No rules on the default branch for the App to bypass.');
    expect(oversightWarnings(result)).toHaveLength(3);
  });

  it('lists the workflow triggers it lacks, and flags pull_request_target', () => {
    expect(marks(healthy({ workflow: { exists: true, dispatch: false, pullRequest: true } })).slice(4, 7)).toStrictEqual([true, false, true]);
    const target = diagnose(healthy({ workflow: { exists: true, dispatch: true, pullRequest: true, pullRequestTarget: true } }));
    expect(target.ok).toBe(false);
    expect(target.markdown).toContain('❌ It runs on `pull_request_target`');
  });

  it('renders the warnings as a quoted block pointing to /optimize doctor', () => {
    const block = renderOversightWarnings(oversightWarnings(diagnose(healthy({ approvals: 0 }))));
    expect(block).toContain('> **Oversight is missing on the default branch, or could not be confirmed.**');
    expect(block).toContain('`/optimize doctor`');
    expect(block).toContain('> - ❌ Merging into the default branch needs no approving review');
  });
});

describe('workflowTriggers', () => {
  it('reads `on` as a map, a list or a single event', () => {
    expect(workflowTriggers('on:\n  workflow_dispatch:\n    inputs: {}\n  pull_request:\n    types: [opened]\n')).toStrictEqual({ exists: true, dispatch: true, pullRequest: true });
    expect(workflowTriggers('on: [push, pull_request]\n')).toStrictEqual({ exists: true, dispatch: false, pullRequest: true });
    expect(workflowTriggers('on: workflow_dispatch\n')).toStrictEqual({ exists: true, dispatch: true, pullRequest: false });
    expect(workflowTriggers('on:\n  pull_request_target:\n')).toStrictEqual({ exists: true, dispatch: false, pullRequest: false, pullRequestTarget: true });
  });

  it('treats a missing file, no `on`, or broken YAML as having no triggers', () => {
    expect(workflowTriggers(null)).toStrictEqual({ exists: false, dispatch: false, pullRequest: false });
    expect(workflowTriggers('name: autoloop\n')).toStrictEqual({ exists: true, dispatch: false, pullRequest: false });
    expect(workflowTriggers('on: [unclosed\n')).toStrictEqual({ exists: true, dispatch: false, pullRequest: false });
  });
});

describe('oversightOf', () => {
  const gateRule = (integrationId: number | null, rulesetId = 1): RuleLike => ({ type: 'required_status_checks', rulesetId, statusChecks: [{ context: 'autoloop/gate', integrationId }] });
  const review = (count: number, rulesetId = 1): RuleLike => ({ type: 'pull_request', rulesetId, requiredApprovals: count });

  it('finds nothing on an unprotected branch', () => {
    expect(oversightOf({ rules: [], protection: null, app: APP })).toStrictEqual({ gateCheck: { required: false, boundToApp: null }, approvals: 0, appCanBypass: null, freshApproval: false });
  });

  it('reads the gate, its source, the reviews and the bypass from rulesets', () => {
    const rules = [gateRule(7), review(2), { type: 'deletion', rulesetId: 3 }];
    expect(relevantRulesetIds(rules)).toStrictEqual([1]);
    expect(oversightOf({ rules, rulesets: [{ id: 1, currentUserCanBypass: 'never' }], protection: null, app: APP })).toStrictEqual({
      gateCheck: { required: true, boundToApp: true },
      approvals: 2,
      appCanBypass: false,
      freshApproval: false,
    });
    expect(oversightOf({ rules, rulesets: [{ id: 1, currentUserCanBypass: 'pull_requests_only' }], protection: null, app: APP }).appCanBypass).toBe(true);
    expect(oversightOf({ rules, rulesets: 'unknown', protection: null, app: APP }).appCanBypass).toBeNull();
    expect(oversightOf({ rules: [gateRule(99)], protection: null, app: APP }).gateCheck).toStrictEqual({ required: true, boundToApp: false });
    expect(oversightOf({ rules: [gateRule(null)], protection: null, app: APP }).gateCheck).toStrictEqual({ required: true, boundToApp: false });
    expect(oversightOf({ rules: [gateRule(7)], protection: null, app: { id: null, slug: null } }).gateCheck).toStrictEqual({ required: true, boundToApp: null });
  });

  it('reads classic protection, its app bypass, and counts one bound source among several as bound', () => {
    const protection = { checks: [{ context: 'autoloop/gate', appId: 7 }], requiredApprovals: 1, bypassApps: [] };
    expect(oversightOf({ rules: [gateRule(null)], rulesets: [{ id: 1, currentUserCanBypass: 'never' }], protection, app: APP })).toStrictEqual({ gateCheck: { required: true, boundToApp: true }, approvals: 1, appCanBypass: false, freshApproval: false });
    expect(oversightOf({ rules: [], protection: { ...protection, bypassApps: ['autoloop'] }, app: APP }).appCanBypass).toBe(true);
  });

  it('leaves what it could not read unknown, unless the other source already answers', () => {
    expect(oversightOf({ rules: [], protection: 'unknown', app: APP })).toStrictEqual({ gateCheck: { required: null, boundToApp: null }, approvals: null, appCanBypass: null, freshApproval: null });
    expect(oversightOf({ rules: [gateRule(7), review(1)], rulesets: [{ id: 1, currentUserCanBypass: 'never' }], protection: 'unknown', app: APP })).toStrictEqual({
      gateCheck: { required: true, boundToApp: true },
      approvals: 1,
      appCanBypass: false,
      freshApproval: null,
    });
  });

  it('counts an approval as fresh when a review rule or the protection dismisses stale ones, or wants the last push approved', () => {
    expect(oversightOf({ rules: [{ ...review(1), freshApproval: true }], protection: null, app: APP }).freshApproval).toBe(true);
    const protection = { checks: [], requiredApprovals: 1, bypassApps: [], freshApproval: true };
    expect(oversightOf({ rules: [], protection, app: APP }).freshApproval).toBe(true);
    expect(oversightOf({ rules: [review(1)], protection: { ...protection, freshApproval: false }, app: APP }).freshApproval).toBe(false);
  });
});

describe('runBranchBlockers', () => {
  it('names the rules that would refuse the App creating or fast-forwarding a run branch, unless the App may bypass them', () => {
    const rules: RuleLike[] = [{ type: 'non_fast_forward', rulesetId: 1 }, { type: 'update', rulesetId: 2 }, { type: 'required_signatures', rulesetId: 2 }, { type: 'creation', rulesetId: 3 }];
    expect(runBranchBlockers(rules)).toStrictEqual(['update', 'required_signatures', 'creation']);
    expect(runBranchBlockers(rules, [{ id: 2, currentUserCanBypass: 'always' }, { id: 3, currentUserCanBypass: 'never' }])).toStrictEqual(['creation']);
    expect(runBranchBlockers([{ type: 'non_fast_forward', rulesetId: 1 }, { type: 'required_linear_history', rulesetId: 1 }])).toStrictEqual([]);
    expect(runBranchBlockers('unknown')).toBeNull();
  });

  it('is a doctor finding with the fix, and an unfresh approval is an oversight warning', () => {
    const base = { gateCheck: { required: true, boundToApp: true }, approvals: 1, appCanBypass: false, workflow: { exists: true, dispatch: true, pullRequest: true }, config: { valid: true, errors: [] } };
    const blocked = diagnose({ ...base, freshApproval: true, runBranch: { name: 'autoloop/12/run', blockers: ['update'] } });
    expect(blocked.ok).toBe(false);
    expect(blocked.markdown).toContain('❌ Rules on `autoloop/12/run` would refuse the App\'s updates of the run branch (`update`)');
    expect(blocked.markdown).toContain('exclude `autoloop/**` from those rulesets, or add this App to their bypass list');
    const stale = diagnose({ ...base, freshApproval: false });
    expect(oversightWarnings(stale).some((warning) => warning.includes('An approval stays valid when new commits are pushed'))).toBe(true);
    expect(diagnose({ ...base, freshApproval: true, runBranch: { name: 'autoloop/12/run', blockers: [] } }).ok).toBe(true);
  });
});
