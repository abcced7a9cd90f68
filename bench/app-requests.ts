/**
 * GitHub API requests the App makes per experiment, counted on the fake GitHub of the App's tests
 * (test/fixtures/api/github/) while Probot drives whole runs: /optimize, then for each experiment its
 * proposal and its evaluation (kept and discarded in turn), then the finish. Runs of several lengths side
 * by side separate the cost of one more experiment from the fixed cost of a run (start and finish).
 *
 *   npx tsx bench/app-requests.ts [experiments...]      (default: 1 3 5 10)
 */
import { clearImmutableReads } from '../src/app/octokit-gateway.js';
import type { FakeRequest } from '../test/fixtures/api/github/model.js';
import { FakeGitHub } from '../test/fixtures/api/github/server.js';
import { AppHarness } from '../test/fixtures/drivers/harness.js';
import { configYaml, MAINTAINER, REVIEWER, repositoryFiles, SAMPLES } from '../test/fixtures/drivers/scenario.js';
import { printTable } from './simulate.js';

const TARGET = 12;
const sizes = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [1, 3, 5, 10];

interface Phase {
  name: string;
  requests: FakeRequest[];
}

interface Measured {
  experiments: number;
  phases: Phase[];
}

const isApi = (r: FakeRequest) => r.host === 'api';
const isWrite = (r: FakeRequest) => r.method !== 'GET' && r.route !== 'POST /app/installations/{id}/access_tokens';

/** One whole run of `experiments`, odd ones kept and even ones discarded; the requests of each webhook apart. */
async function measure(experiments: number): Promise<Measured> {
  // Each run on a fresh fake GitHub, whose commit SHAs repeat from one fake to the next: nothing read at a SHA carries over.
  clearImmutableReads();
  const fake = new FakeGitHub({ files: repositoryFiles(configYaml({ experiments, parallel: 1 })) }).start();
  fake.permissions.set(MAINTAINER, 'write');
  fake.permissions.set(REVIEWER, 'write');
  const phases: Phase[] = [];
  const phase = async (name: string, action: () => Promise<unknown>) => {
    fake.clearRequests();
    await action();
    // The webhooks GitHub sends back for the App's own merges and closes belong to the same step.
    await app.flush();
    phases.push({ name, requests: fake.requests() });
  };
  const app = await AppHarness.create(fake);
  try {
    await phase('start', () => app.comment('/optimize'));
    for (let k = 1; k <= experiments; k++) {
      await phase(`proposal ${k}`, () => app.propose(k));
      await phase(`evaluation ${k}`, () => app.evaluateExperiment(k, { samples: k % 2 === 1 ? SAMPLES.improved : SAMPLES.regressed }));
    }
    if (fake.unmatched.length || fake.unrouted.length) throw new Error(`requests past the fake: ${[...fake.unmatched, ...fake.unrouted].join('; ')}`);
    if (fake.specViolations.length) throw new Error(`against GitHub's REST description: ${fake.specViolations.join('; ')}`);
    if (fake.history().some((r) => r.status === 422)) throw new Error('GitHub refused a request of the run (422)');
    const last = fake.history().filter((r) => r.route === 'POST /graphql');
    if (last.length !== 1) throw new Error('the run did not finish (no markPullRequestReadyForReview)');
  } finally {
    fake.stop();
  }
  return { experiments, phases };
}

const count = (requests: FakeRequest[], filter: (r: FakeRequest) => boolean) => requests.filter(filter).length;
const all = (m: Measured) => m.phases.flatMap((p) => p.requests);
const fixed = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(1));

const runs: Measured[] = [];
for (const size of sizes) runs.push(await measure(size));

console.log('GitHub API requests per run (api.github.com; artifact blob downloads counted apart)\n');
printTable(
  ['experiments', 'requests', 'writes', 'blob downloads', 'requests / exp', 'writes / exp'],
  runs.map((m) => {
    const requests = all(m);
    return [
      String(m.experiments),
      String(count(requests, isApi)),
      String(count(requests, (r) => isApi(r) && isWrite(r))),
      String(count(requests, (r) => !isApi(r))),
      fixed(count(requests, isApi) / m.experiments),
      fixed(count(requests, (r) => isApi(r) && isWrite(r)) / m.experiments),
    ];
  }),
);

// One more experiment against the fixed cost of a run, from the two longest runs measured side by side.
const [shorter, longer] = [...runs].sort((a, b) => a.experiments - b.experiments).slice(-2);
if (shorter && longer && longer.experiments > shorter.experiments) {
  const span = longer.experiments - shorter.experiments;
  const marginal = (filter: (r: FakeRequest) => boolean) => (count(all(longer), filter) - count(all(shorter), filter)) / span;
  const perRun = (filter: (r: FakeRequest) => boolean) => count(all(longer), filter) - longer.experiments * marginal(filter);
  const apiRequests = (r: FakeRequest) => isApi(r);
  const apiWrites = (r: FakeRequest) => isApi(r) && isWrite(r);
  console.log(`\nOne more experiment against the fixed cost of a run (runs of ${shorter.experiments} and ${longer.experiments} experiments)\n`);
  printTable(
    ['', 'requests', 'writes', `target <= ${TARGET} / exp`],
    [
      ['per experiment', fixed(marginal(apiRequests)), fixed(marginal(apiWrites)), `requests ${marginal(apiRequests) <= TARGET ? 'met' : 'NOT met'}, writes ${marginal(apiWrites) <= TARGET ? 'met' : 'NOT met'}`],
      ['per run (start + finish)', fixed(perRun(apiRequests)), fixed(perRun(apiWrites)), ''],
      ['  the /optimize webhook', String(count(longer.phases[0]!.requests, apiRequests)), String(count(longer.phases[0]!.requests, apiWrites)), 'incl. token, app slug, dispatch of exp 1'],
    ],
  );
}

// Where one steady-state experiment's requests go (a kept and a discarded one, the second and third of the longest run).
const longest = runs.reduce((a, b) => (b.experiments > a.experiments ? b : a));
if (longest.experiments >= 4) {
  const byRoute = new Map<string, number[]>();
  const columns = ['proposal 2', 'evaluation 2', 'proposal 3', 'evaluation 3'];
  columns.forEach((name, column) => {
    for (const request of longest.phases.find((p) => p.name === name)!.requests.filter(isApi)) {
      const route = request.route.replace(/ \/repos\/\{owner\}\/\{repo\}($|\/)/, (_, rest: string) => (rest ? ' /' : ' / (the repository)'));
      const counts = byRoute.get(route) ?? columns.map(() => 0);
      counts[column]!++;
      byRoute.set(route, counts);
    }
  });
  const rows = [...byRoute].sort((a, b) => b[1].reduce((x, y) => x + y) - a[1].reduce((x, y) => x + y)).map(([route, counts]) => [route, ...counts.map(String)]);
  const totals = columns.map((_, column) => [...byRoute.values()].reduce((sum, counts) => sum + counts[column]!, 0));
  console.log('\nRequests of one experiment by endpoint (experiment 2 discarded, experiment 3 kept)\n');
  printTable(['endpoint', 'propose 2', 'evaluate 2 (discard)', 'propose 3', 'evaluate 3 (keep)'], [...rows, ['total', ...totals.map(String)]]);
}
