import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { appendFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLoop } from '../../src/engine/loop.js';
import { LedgerWriter } from '../../src/engine/run-files.js';
import { runCli } from '../fixtures/drivers/cli.js';
import { makeLedger, makeStop } from '../fixtures/records/ledger.js';
import { makeQuadraticRepo } from '../fixtures/local/repo.js';
import { createProposer } from '../../src/proposers/index.js';

/** A run directory whose ledger `LedgerWriter` wrote from the fixture run: line n + 2 is experiment n. */
async function writtenRun(): Promise<{ dir: string; ledger: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'autoloop-verify-'));
  const ledger = join(dir, 'ledger.jsonl');
  const writer = await LedgerWriter.open(ledger);
  const { run, experiments } = makeLedger();
  for (const record of [run, ...experiments, makeStop()]) await writer.append(record);
  return { dir, ledger };
}

/** Changes experiment 2's metric (line 4) from 0.47 to 0.43, as someone improving the record by hand would. */
async function editMetric(ledger: string): Promise<void> {
  const text = readFileSync(ledger, 'utf8');
  expect(text.split('\n')[3]).toContain('"metric":0.47');
  await writeFile(ledger, text.replace('"metric":0.47', '"metric":0.43'));
}

describe('autoloop verify', () => {
  it('exits 0 on an intact ledger and 5 on an edited one, naming the line and the experiment', async () => {
    const { dir, ledger } = await writtenRun();
    const intact = await runCli(['verify', dir], dir);
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(/^ledger\.jsonl: hash chain intact, 9 records, head [0-9a-f]{64}\n$/);

    await editMetric(ledger);
    const edited = await runCli(['verify', dir], dir);
    expect(edited.code).toBe(5);
    expect(edited.stdout).toContain('ledger.jsonl:4: line 4 (experiment 2) was changed after it was written');
    expect(edited.stdout).toContain('(edited)');

    const json = await runCli(['verify', dir, '--json'], dir);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, file: ledger, line: 4, experiment: 2, kind: 'edited' });
  });

  it('reports a last line cut short by a crash as such, with exit code 0', async () => {
    const { dir, ledger } = await writtenRun();
    await appendFile(ledger, '{"prev":"00","type":"exper');
    const result = await runCli(['verify', dir], dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('hash chain intact, 9 records');
    expect(result.stdout).toContain('cut short by a crash mid-write (not tampering)');
  });

  it('report --verify refuses an altered ledger with exit code 5; report alone warns', async () => {
    const { dir, ledger } = await writtenRun();
    const checked = await runCli(['report', dir, '--verify'], dir);
    expect(checked.code).toBe(0);
    expect(checked.stdout).toContain('| # |');
    expect(checked.stderr).toContain('hash chain intact, 9 records');

    await editMetric(ledger);
    const refused = await runCli(['report', dir, '--verify'], dir);
    expect(refused.code).toBe(5);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain('ledger.jsonl:4: line 4 (experiment 2) was changed');
    const json = await runCli(['report', dir, '--verify', '--json'], dir);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout).verify).toMatchObject({ ok: false, line: 4, experiment: 2 });

    const unchecked = await runCli(['report', dir], dir);
    expect(unchecked.code).toBe(0);
    expect(unchecked.stdout).toContain('| # |');
    expect(unchecked.stderr).toContain('Warning: ledger.jsonl:4: line 4 (experiment 2) was changed');
  });

  it('says what to do when there is no ledger', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'autoloop-verify-'));
    mkdirSync(join(dir, 'empty'));
    const result = await runCli(['verify', 'empty'], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no ledger found');
  });

  it('checks a ledger the loop wrote, and run --resume refuses it once altered', async () => {
    const repo = makeQuadraticRepo('{ experiments: 2 }');
    const { paths } = await runLoop({ proposer: createProposer, cwd: repo, tag: 'chain' });
    const intact = await runCli(['verify', '--tag', 'chain'], repo);
    expect(intact.code, intact.stdout).toBe(0);
    expect(intact.stdout).toContain('.autoloop/chain/ledger.jsonl: hash chain intact, 5 records');

    const lines = readFileSync(paths.ledger, 'utf8').split('\n');
    lines[1] = lines[1]!.replace(/"type":"experiment","experiment":0,/, '$&"note":"x",');
    await writeFile(paths.ledger, lines.join('\n'));
    const resumed = await runCli(['run', '--resume', '--tag', 'chain', '--experiments', '3'], repo);
    expect(resumed.code).toBe(5);
    expect(resumed.stderr).toContain('.autoloop/chain/ledger.jsonl:2: line 2 (experiment 0) was changed after it was written');
    expect(resumed.stderr).toContain('autoloop will not build on it');
  });
});
