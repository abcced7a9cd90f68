/**
 * `/optimize doctor` end to end, through Probot over the fake GitHub: what it reads of the default branch's rules,
 * protection, workflow and config, what it answers, and the warning a run started without oversight carries.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FakeRuleset } from '../fixtures/api/github/model.js';
import type { FakeGitHub } from '../fixtures/api/github/server.js';
import { AppHarness } from '../fixtures/drivers/harness.js';
import { configYaml, ISSUE } from '../fixtures/drivers/scenario.js';

/** The id of the App in the fake (`GET /app`). */
const APP_ID = 1;
const WORKFLOW = readFileSync(new URL('../../examples/workflows/autoloop.yml', import.meta.url), 'utf8');

let fake: FakeGitHub;
let app: AppHarness;

beforeEach(async () => {
  ({ fake, app } = await AppHarness.started());
});

afterEach(() => fake.stopChecked());

/** A ruleset on the default branch requiring `autoloop/gate` (from `integrationId`, or any source) and `approvals` reviews. */
function ruleset(options: { integrationId?: number | null; approvals?: number; bypass?: FakeRuleset['bypass'] } = {}): FakeRuleset {
  const integrationId = options.integrationId === undefined ? APP_ID : options.integrationId;
  return {
    id: 42,
    name: 'main',
    enforcement: 'active',
    bypass: options.bypass ?? 'never',
    rules: [
      {
        type: 'required_status_checks',
        parameters: {
          strict_required_status_checks_policy: false,
          required_status_checks: [{ context: 'autoloop/gate', ...(integrationId === null ? {} : { integration_id: integrationId }) }, { context: 'ci/test' }],
        },
      },
      {
        type: 'pull_request',
        parameters: { required_approving_review_count: options.approvals ?? 1, dismiss_stale_reviews_on_push: true, require_code_owner_review: false, require_last_push_approval: false, required_review_thread_resolution: false },
      },
    ],
  };
}

/** The repository with the example workflow committed next to the config. */
function withWorkflow(): void {
  fake.push('main', fake.commit(fake.refs.get('main')!, { '.github/workflows/autoloop.yml': WORKFLOW }));
}

async function doctor(): Promise<string> {
  fake.clearRequests();
  await app.comment('/optimize doctor');
  const writes = fake.writes().map((r) => r.route);
  expect(writes).toStrictEqual(['POST /repos/{owner}/{repo}/issues/comments/{id}/reactions', 'POST /repos/{owner}/{repo}/issues/{number}/comments']);
  return fake.commentsOn(ISSUE).at(-1)!.body;
}

describe('/optimize doctor', () => {
  it('lists what an unprotected repository lacks, with what to do, and writes nothing but the reply', async () => {
    // A workflow file without triggers: GitHub would neither dispatch it nor run it on pull requests.
    fake.push('main', fake.commit(fake.refs.get('main')!, { '.github/workflows/autoloop.yml': 'name: autoloop\n' }));
    const reply = await doctor();
    expect(reply).toContain('**autoloop doctor** (default branch `main`)');
    expect(reply).toContain('❌ The status check `autoloop/gate` is not required on the default branch');
    expect(reply).toContain('require the status check `autoloop/gate` with this App as its source');
    expect(reply).toContain('❌ No required `autoloop/gate` check is bound to this App.');
    expect(reply).toContain('❌ Merging into the default branch needs no approving review');
    expect(reply).toContain('❔ No rules on the default branch for the App to bypass.');
    expect(reply).toContain('✅ The workflow `.github/workflows/autoloop.yml` exists.');
    expect(reply).toContain('❌ It does not run on `workflow_dispatch`');
    expect(reply).toContain('❌ It does not run on `pull_request`');
    expect(reply).toContain('✅ The config `.github/autoloop.yml` is valid.');
    expect(reply).not.toContain('all checks pass');
  });

  it('passes every check when a ruleset requires the gate from this App and an approval, without bypass, with a valid workflow and config', async () => {
    fake.rulesets.push(ruleset());
    withWorkflow();
    const reply = await doctor();
    expect(reply).toContain('all checks pass');
    expect(reply).not.toMatch(/❌|❔/);
    expect(reply).toContain('✅ The required `autoloop/gate` must come from this App.');
    expect(reply).toContain('✅ Merging into the default branch needs 1 approving review.');
    expect(reply).toContain('✅ The App cannot bypass');
    expect(reply).toContain('✅ It runs on `workflow_dispatch`');
    expect(reply).toContain('✅ It runs on `pull_request`');
  });

  it('says when a ruleset on the run branch would refuse the App its fast-forwards, and passes again once the App may bypass it', async () => {
    fake.rulesets.push(ruleset());
    // GitHub: "Get rules for a branch" answers the rules of every active ruleset whose target includes the branch.
    fake.rulesets.push({ id: 43, name: 'locked autoloop branches', enforcement: 'active', bypass: 'never', branches: [`autoloop/${ISSUE}/run`], rules: [{ type: 'update', parameters: { update_allows_fetch_and_merge: false } }, { type: 'non_fast_forward' }] });
    withWorkflow();
    const reply = await doctor();
    expect(reply).toContain(`❌ Rules on \`autoloop/${ISSUE}/run\` would refuse the App's updates of the run branch (\`update\`)`);
    fake.rulesets.at(-1)!.bypass = 'always';
    expect(await doctor()).toContain(`✅ No rule on \`autoloop/${ISSUE}/run\` stops the App`);
  });

  it('passes the same checks from classic branch protection', async () => {
    fake.protection.set('main', {
      required_status_checks: { strict: false, contexts: ['autoloop/gate'], checks: [{ context: 'autoloop/gate', app_id: APP_ID }] },
      required_pull_request_reviews: { required_approving_review_count: 2, dismiss_stale_reviews: true, bypass_pull_request_allowances: { users: [], teams: [], apps: [] } },
      enforce_admins: { enabled: true },
    });
    withWorkflow();
    const reply = await doctor();
    expect(reply).toContain('all checks pass');
    expect(reply).toContain('needs 2 approving reviews');
  });

  it('fails "bound to this App" for a gate required from another app, or from any source', async () => {
    fake.rulesets.push(ruleset({ integrationId: 999 }));
    withWorkflow();
    let reply = await doctor();
    expect(reply).toContain('✅ The status check `autoloop/gate` is required on the default branch.');
    expect(reply).toContain('❌ The required `autoloop/gate` is not bound to this App');
    expect(reply).toContain('set the source of the required check `autoloop/gate` to this App');

    fake.rulesets.splice(0, 1, ruleset({ integrationId: null }));
    reply = await doctor();
    expect(reply).toContain('❌ The required `autoloop/gate` is not bound to this App');
  });

  it('fails when the App may bypass the ruleset', async () => {
    fake.rulesets.push(ruleset({ bypass: 'always' }));
    withWorkflow();
    const reply = await doctor();
    expect(reply).toContain('❌ The App can bypass the default branch\'s rules');
    expect(reply).toContain('Remove this App from the bypass list');
  });

  it('says "could not tell" when the App may not read the protection (403), rather than failing', async () => {
    fake.failures.push({ method: 'GET', path: /\/branches\/main\/protection$/, status: 403, message: 'Resource not accessible by integration' });
    withWorkflow();
    const reply = await doctor();
    expect(reply).toContain('❔ Could not tell whether the status check `autoloop/gate` is required');
    expect(reply).toContain('❔ Could not tell whether merging into the default branch needs an approving review.');
  });

  it('quotes the config errors', async () => {
    const broken = configYaml().replace('repeats: 3', 'repeats: three');
    fake.push('main', fake.commit(fake.refs.get('main')!, { '.github/autoloop.yml': broken }));
    const reply = await doctor();
    expect(reply).toContain('❌ The config `.github/autoloop.yml` is not valid.');
    expect(reply).toMatch(/```text\n\.github\/autoloop\.yml:3: evaluate\.repeats/);
  });
});

describe('a run started without oversight', () => {
  it('says so in its first status comment, with three extra reads', async () => {
    fake.clearRequests();
    await app.comment('/optimize');
    const status = fake.commentsOn(ISSUE).find((c) => c.body.includes('autoloop is running'))!;
    expect(status.body).toContain('**Oversight is missing on the default branch, or could not be confirmed.**');
    expect(status.body).toContain('> - ❌ The status check `autoloop/gate` is not required');
    expect(status.body).toContain('> - ❌ Merging into the default branch needs no approving review');
    expect(status.body).not.toContain('bypass');
    const reads = fake.requests().map((r) => r.route);
    expect(reads.filter((route) => /rules\/branches|protection|rulesets/.test(route))).toStrictEqual([
      'GET /repos/{owner}/{repo}/rules/branches/{branch}',
      'GET /repos/{owner}/{repo}/branches/{branch}/protection',
    ]);
    expect(fake.requests().filter((r) => r.path.endsWith('/contents/.github%2Fworkflows%2Fautoloop.yml') || r.path.endsWith('/contents/.github/workflows/autoloop.yml'))).toHaveLength(1);
  });

  it('says it could not confirm oversight the App may not read (classic protection without the administration permission)', async () => {
    fake.failures.push({ method: 'GET', path: /\/branches\/main\/protection$/, status: 403, message: 'Resource not accessible by integration' });
    await app.comment('/optimize');
    const status = fake.commentsOn(ISSUE).find((c) => c.body.includes('autoloop is running'))!;
    expect(status.body).toContain('> - ❔ Could not tell whether the status check `autoloop/gate` is required');
    expect(fake.refs.has(`autoloop/${ISSUE}/run`)).toBe(true);
  });

  it('carries no warning when the default branch has its oversight', async () => {
    fake.rulesets.push(ruleset());
    withWorkflow();
    await app.comment('/optimize');
    const status = fake.commentsOn(ISSUE).find((c) => c.body.includes('autoloop is running'))!;
    expect(status.body).not.toContain('Oversight is missing');
    expect(fake.requests().filter((r) => r.route === 'GET /repos/{owner}/{repo}/rulesets')).toHaveLength(1);
  });
});
