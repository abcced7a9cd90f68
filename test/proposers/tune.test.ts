import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { configSchema, type ConfigInput } from '../../src/core/config/config-schema.js';
import { experimentRecordSchema, type ExperimentRecord, type ExperimentStatus } from '../../src/core/ledger/records.js';
import type { Proposal, ProposalContext, Proposer } from '../../src/core/propose/proposer.js';
import { FLOAT_RESOLUTION, SIGMA_INITIAL } from '../../src/core/propose/tune-search.js';
import { TuneError, createTuneProposer } from '../../src/proposers/tune.js';
import { makeExperiment, makeJudgement } from '../fixtures/records/ledger.js';

type TuneInput = NonNullable<NonNullable<ConfigInput['proposer']>['tune']>;

function configFor(tune: TuneInput) {
  return configSchema.parse({
    metric: { name: 'val_loss', goal: 'minimize' },
    evaluate: { command: 'node eval.js' },
    scope: { edit: [tune.file] },
    proposer: { kind: 'tune', tune },
  });
}

function record(experiment: number, status: ExperimentStatus, notes: Record<string, unknown>): ExperimentRecord {
  return makeExperiment({ experiment, status, proposer: { kind: 'tune', notes } });
}

let worktree: string;

beforeEach(async () => {
  worktree = await mkdtemp(path.join(os.tmpdir(), 'autoloop-tune-'));
});

afterEach(async () => {
  await rm(worktree, { recursive: true, force: true });
});

function context(config: ReturnType<typeof configFor>, experiment = 1, history: ExperimentRecord[] = []): ProposalContext {
  return { worktree, config, experiment, history: [record(0, 'keep', {}), ...history] };
}

describe('createTuneProposer: JSON', () => {
  const original = [
    '{',
    '    "name": "mlp",',
    '    "model": {',
    '        "lr": 0.01,',
    '        "hidden": 16,',
    '        "layers": [1, 2, 3]',
    '    },',
    '    "activation": "relu"',
    '}',
    '',
  ].join('\n');
  const tune: TuneInput = {
    file: 'params.json',
    params: {
      'model.lr': { min: 1e-4, max: 1, scale: 'log' },
      'model.hidden': { min: 4, max: 64, type: 'int' },
      activation: { choices: ['relu', 'gelu', 'tanh'] },
    },
    seed: 3,
  };

  it('edits nested keys in place, keeping the 4-space indent, the inline list and the trailing newline', async () => {
    await writeFile(path.join(worktree, 'params.json'), original);
    const proposal = (await createTuneProposer(configFor(tune)).propose(context(configFor(tune))))!;
    expect(proposal).not.toBeNull();
    const text = await readFile(path.join(worktree, 'params.json'), 'utf8');
    const data = JSON.parse(text) as { model: { lr: number; hidden: number }; activation: string; name: string };
    const params = proposal.notes.params as Record<string, unknown>;
    expect({ 'model.lr': data.model.lr, 'model.hidden': data.model.hidden, activation: data.activation }).toEqual(params);
    expect(proposal.notes.from).toEqual({ 'model.lr': 0.01, 'model.hidden': 16, activation: 'relu' });
    expect(proposal.notes.changed).toEqual(Object.keys(params).filter((key) => params[key] !== (proposal.notes.from as Record<string, unknown>)[key]));
    expect(['local', 'explore', 'enumerate']).toContain(proposal.notes.mode);
    expect(typeof proposal.notes.sigma).toBe('number');
    // Same lines, only the changed values differ.
    const before = original.split('\n');
    const after = text.split('\n');
    expect(after).toHaveLength(before.length);
    expect(after[5]).toBe('        "layers": [1, 2, 3]');
    expect(after.filter((line, index) => line !== before[index])).toHaveLength((proposal.notes.changed as string[]).length);
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('writes a hypothesis naming the changed keys, old and new value', async () => {
    await writeFile(path.join(worktree, 'params.json'), original);
    const proposal = (await createTuneProposer(configFor(tune)).propose(context(configFor(tune))))!;
    const parts = proposal.hypothesis.split(', ');
    expect(parts).toHaveLength((proposal.notes.changed as string[]).length);
    for (const part of parts) expect(part).toMatch(/^(model\.lr 0\.01|model\.hidden 16|activation relu) → \S+$/);
  });

  it('keeps a one-line JSON file on one line', async () => {
    const compact = '{"learning_rate":0.0005,"momentum":0.0,"hidden_units":16,"activation":"relu"}';
    await writeFile(path.join(worktree, 'params.json'), compact);
    const config = configFor({ file: 'params.json', params: { learning_rate: { min: 1e-5, max: 0.1, scale: 'log' }, hidden_units: { min: 4, max: 64, type: 'int' } } });
    const proposal = (await createTuneProposer(config).propose(context(config)))!;
    const text = await readFile(path.join(worktree, 'params.json'), 'utf8');
    expect(text).not.toContain('\n');
    expect(text).toContain('"momentum":0.0,');
    expect(JSON.parse(text)).toMatchObject(
      Object.fromEntries(Object.entries(proposal.notes.params as Record<string, unknown>)),
    );
  });

  it('is reproducible: the same history proposes the same edit', async () => {
    const config = configFor(tune);
    const history = [record(1, 'discard', { params: { 'model.lr': 0.02, 'model.hidden': 16, activation: 'relu' }, mode: 'local' })];
    const texts: string[] = [];
    const proposals: Proposal[] = [];
    for (let round = 0; round < 2; round++) {
      await writeFile(path.join(worktree, 'params.json'), original);
      proposals.push((await createTuneProposer(config).propose(context(config, 2, history)))!);
      texts.push(await readFile(path.join(worktree, 'params.json'), 'utf8'));
    }
    expect(texts[1]).toBe(texts[0]);
    expect(proposals[1]).toEqual(proposals[0]);
  });
});

describe('createTuneProposer: YAML', () => {
  const original = [
    '# Training parameters; tuned by autoloop.',
    'model:',
    '  lr: 0.001 # learning rate',
    '  hidden: 32',
    '  layers:',
    '    - 64',
    '    - 64',
    'optimizer: "adam" # keep quoted',
    'epochs: 3',
    '',
  ].join('\n');

  it('keeps comments, key order and quoting, and edits nested and list keys', async () => {
    await writeFile(path.join(worktree, 'train.yml'), original);
    const config = configFor({
      file: 'train.yml',
      params: {
        'model.lr': { min: 1e-4, max: 0.1, scale: 'log' },
        'model.layers.1': { min: 8, max: 256, type: 'int', scale: 'log' },
        optimizer: { choices: ['adam', 'sgd'] },
      },
      explore: 0,
    });
    const seen = new Set<string>();
    // Several experiments from the same file, so each key is changed at least once.
    for (let experiment = 1; experiment <= 6; experiment++) {
      await writeFile(path.join(worktree, 'train.yml'), original);
      const proposal = (await createTuneProposer(config).propose(context(config, experiment)))!;
      const text = await readFile(path.join(worktree, 'train.yml'), 'utf8');
      const params = proposal.notes.params as Record<string, unknown>;
      const data = parseYaml(text) as { model: { lr: number; hidden: number; layers: number[] }; optimizer: string; epochs: number };
      expect(data.model.lr).toBe(params['model.lr']);
      expect(data.model.layers).toEqual([64, params['model.layers.1']]);
      expect(data.optimizer).toBe(params.optimizer);
      expect(data.model.hidden).toBe(32);
      expect(data.epochs).toBe(3);
      const lines = text.split('\n');
      expect(lines[0]).toBe('# Training parameters; tuned by autoloop.');
      expect(lines[2]).toBe(`  lr: ${String(params['model.lr'])} # learning rate`);
      expect(lines[6]).toBe(`    - ${String(params['model.layers.1'])}`);
      expect(lines[7]).toBe(`optimizer: "${String(params.optimizer)}" # keep quoted`);
      // Every other line, comments included, is untouched.
      const untouched = (line: string, index: number) => ![2, 6, 7].includes(index);
      expect(lines.filter(untouched)).toEqual(original.split('\n').filter(untouched));
      for (const key of proposal.notes.changed as string[]) seen.add(key);
    }
    expect([...seen].sort()).toEqual(['model.layers.1', 'model.lr', 'optimizer']);
  });
  it('quotes a string only where YAML needs it, and replaces an alias by the value', async () => {
    await writeFile(path.join(worktree, 'train.yml'), 'base: &lr 0.1\nlr: *lr # shared\nmodel: {norm: layer, act: relu}\n');
    const config = configFor({
      file: 'train.yml',
      params: { lr: { min: 0.01, max: 1, scale: 'log' }, 'model.norm': { choices: ['layer', 'group, 8'] } },
      explore: 0,
    });
    let proposal: Proposal | null = null;
    // Find an experiment whose step changes both keys; every step changes at least one.
    for (let experiment = 1; experiment <= 20; experiment++) {
      await writeFile(path.join(worktree, 'train.yml'), 'base: &lr 0.1\nlr: *lr # shared\nmodel: {norm: layer, act: relu}\n');
      proposal = await createTuneProposer(config).propose(context(config, experiment));
      if ((proposal!.notes.changed as string[]).length === 2) break;
    }
    const lr = (proposal!.notes.params as Record<string, number>).lr!;
    expect(await readFile(path.join(worktree, 'train.yml'), 'utf8')).toBe(`base: &lr 0.1\nlr: ${lr} # shared\nmodel: {norm: "group, 8", act: relu}\n`);
  });
});

describe('createTuneProposer: a run over a tiny space', () => {
  it('never repeats a point and returns null once every point was measured, leaving the file alone', async () => {
    await mkdir(path.join(worktree, 'conf'));
    const file = path.join(worktree, 'conf', 'space.yaml');
    const original = 'depth: 2\nnorm: layer\n';
    const config = configFor({ file: 'conf/space.yaml', params: { depth: { min: 1, max: 4, type: 'int' }, norm: { choices: ['layer', 'batch', 'none'] } } });
    const proposer = createTuneProposer(config);
    const history: ExperimentRecord[] = [];
    let best = original;
    const seen = new Set<string>(['2/layer']);
    // 4 × 3 = 12 points, one of them the baseline: 11 proposals, then nothing left.
    for (let experiment = 1; experiment <= 20; experiment++) {
      await writeFile(file, best);
      const proposal = await proposer.propose(context(config, experiment, history));
      if (!proposal) {
        expect(experiment).toBe(12);
        expect(await readFile(file, 'utf8')).toBe(best);
        expect(seen.size).toBe(12);
        return;
      }
      const params = proposal.notes.params as { depth: number; norm: string };
      const key = `${params.depth}/${params.norm}`;
      expect(seen.has(key)).toBe(false);
      seen.add(key);
      // Keep every third proposal, so the best point moves as in a real run.
      const keep = experiment % 3 === 0;
      history.push(record(experiment, keep ? 'keep' : 'discard', proposal.notes));
      if (keep) best = await readFile(file, 'utf8');
    }
    expect.unreachable('the space was never exhausted');
  });
});

describe('createTuneProposer: memory of the run', () => {
  // A plateau like a random forest's maxDepth: nothing below 12 makes a difference, and `rate` never does.
  const tune: TuneInput = { file: 'params.json', params: { maxDepth: { min: 1, max: 20, type: 'int' }, rate: { min: 0, max: 1 } }, seed: 2 };
  const plateau = (point: { maxDepth: number; rate: number }) => (point.maxDepth < 12 ? 0.3 : 0.2 - 0.001 * point.maxDepth);
  const baseText = '{ "maxDepth": 3, "rate": 0.5 }\n';

  interface RunState {
    history: ExperimentRecord[];
    /** The best point's file, as the worktree holds it before each proposal. */
    bestText: string;
    proposals: Proposal[];
  }

  /** Experiments `from`..`to` of a run judged by a noise-free judge (val_loss, minimised): ties are `no-change`. */
  async function continueRun(proposer: Proposer, config: ReturnType<typeof configFor>, state: RunState, from: number, to: number): Promise<RunState> {
    let { bestText } = state;
    const history = [...state.history];
    const proposals = [...state.proposals];
    const file = path.join(worktree, 'params.json');
    for (let experiment = from; experiment <= to; experiment++) {
      await writeFile(file, bestText);
      const proposal = (await proposer.propose(context(config, experiment, history)))!;
      proposals.push(proposal);
      const text = await readFile(file, 'utf8');
      const judgement = makeJudgement(plateau(JSON.parse(bestText)), plateau(JSON.parse(text)));
      history.push(makeExperiment({ experiment, status: judgement.keep ? 'keep' : 'discard', judgement, proposer: { kind: 'tune', notes: proposal.notes } }));
      if (judgement.keep) bestText = text;
    }
    return { history, bestText, proposals };
  }

  const start = (): RunState => ({ history: [], bestText: baseText, proposals: [] });
  const pointOf = (proposal: Proposal) => proposal.notes.params as { maxDepth: number; rate: number };
  /** The earlier point (the base included) that `point` repeats: the same maxDepth and a rate within 1% of the range. */
  const repeatOf = (earlier: readonly { maxDepth: number; rate: number }[], point: { maxDepth: number; rate: number }) =>
    [{ maxDepth: 3, rate: 0.5 }, ...earlier].find((other) => other.maxDepth === point.maxDepth && Math.abs(other.rate - point.rate) < FLOAT_RESOLUTION);

  it('never measures a point twice, not even nearly, while every step ties, and finds the edge of the plateau in 15', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const config = configFor({ ...tune, seed });
      const run = await continueRun(createTuneProposer(config), config, start(), 1, 15);
      const points = run.proposals.map(pointOf);
      points.forEach((point, index) => expect(repeatOf(points.slice(0, index), point), `seed ${seed}, experiment ${index + 1}`).toBeUndefined());
      expect(run.history.filter((record) => record.judgement?.verdict === 'no-change').length).toBeGreaterThan(1);
      expect(JSON.parse(run.bestText).maxDepth, `seed ${seed}`).toBeGreaterThanOrEqual(12);
    }
  });

  it('grows its step after ties, and shrinks it only after regressions', async () => {
    const config = configFor(tune);
    await writeFile(path.join(worktree, 'params.json'), baseText);
    const judged = (experiment: number, candidate: number, maxDepth: number) =>
      makeExperiment({
        experiment,
        status: 'discard',
        judgement: makeJudgement(0.3, candidate),
        proposer: { kind: 'tune', notes: { params: { maxDepth, rate: 0.5 }, from: { maxDepth: 3, rate: 0.5 }, mode: 'local' } },
      });
    const ties = [judged(1, 0.3, 2), judged(2, 0.3, 4), judged(3, 0.3, 1)];
    const regressions = [judged(1, 0.4, 2), judged(2, 0.4, 4), judged(3, 0.4, 1)];
    const sigmaAfter = async (history: ExperimentRecord[]) => (await createTuneProposer(config).propose(context(config, 4, history)))!.notes.sigma as number;
    expect(await sigmaAfter(ties)).toBeGreaterThan(SIGMA_INITIAL);
    expect(await sigmaAfter(regressions)).toBeLessThan(SIGMA_INITIAL);
  });

  it('continues a resumed run from its ledger exactly where it left off, repeating nothing', async () => {
    const config = configFor(tune);
    const whole = await continueRun(createTuneProposer(config), config, start(), 1, 12);
    const first = await continueRun(createTuneProposer(config), config, start(), 1, 6);
    // What --resume reads back: the ledger's JSON lines, parsed by the record schema, and a new proposer.
    const reread = first.history.map((record) => experimentRecordSchema.parse(JSON.parse(JSON.stringify(record))));
    const resumed = await continueRun(createTuneProposer(config), config, { ...first, history: reread }, 7, 12);
    expect(resumed.proposals.map((proposal) => proposal.notes)).toEqual(whole.proposals.map((proposal) => proposal.notes));
    const points = resumed.proposals.map(pointOf);
    points.slice(6).forEach((point, index) => expect(repeatOf(points.slice(0, 6 + index), point)).toBeUndefined());
    // The ties before the interruption count after it: the step the resumed run takes has grown.
    expect(first.history.some((record) => record.judgement?.verdict === 'no-change')).toBe(true);
    expect(resumed.proposals[6]!.notes.sigma).toBeGreaterThan(SIGMA_INITIAL);
  });
});

describe('createTuneProposer: errors', () => {
  it('names the file and the key when a key is missing', async () => {
    await writeFile(path.join(worktree, 'params.json'), '{"model": {"lr": 0.1}}\n');
    const config = configFor({ file: 'params.json', params: { 'model.dropout': { min: 0, max: 0.5 } } });
    const error = await createTuneProposer(config).propose(context(config)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TuneError);
    expect(error).toMatchObject({ file: 'params.json', key: 'model.dropout' });
    expect((error as Error).message).toContain('params.json');
    expect((error as Error).message).toContain('model.dropout');
    expect((error as Error).message).toContain('not found');
  });

  it('rejects a value of the wrong type', async () => {
    await writeFile(path.join(worktree, 'params.yml'), 'lr: "0.1"\nact: [relu]\n');
    const numeric = configFor({ file: 'params.yml', params: { lr: { min: 0, max: 1 } } });
    await expect(createTuneProposer(numeric).propose(context(numeric))).rejects.toThrow(/params\.yml \(key "lr"\): expected a number.*found string "0\.1"/);
    const choice = configFor({ file: 'params.yml', params: { act: { choices: ['relu', 'gelu'] } } });
    await expect(createTuneProposer(choice).propose(context(choice))).rejects.toMatchObject({ name: 'TuneError', file: 'params.yml', key: 'act' });
  });

  it('rejects a missing file, an unsupported extension and invalid content', async () => {
    const missing = configFor({ file: 'nope.json', params: { x: { min: 0, max: 1 } } });
    await expect(createTuneProposer(missing).propose(context(missing))).rejects.toMatchObject({ file: 'nope.json', key: null });
    expect(() => createTuneProposer(configFor({ file: 'params.toml', params: { x: { min: 0, max: 1 } } }))).toThrow(TuneError);
    await writeFile(path.join(worktree, 'bad.json'), '{"x": 1,,}');
    const bad = configFor({ file: 'bad.json', params: { x: { min: 0, max: 1 } } });
    await expect(createTuneProposer(bad).propose(context(bad))).rejects.toThrow(/bad\.json: not valid JSON/);
    // A file outside the repository never gets past the config (and tune.ts refuses it again where it resolves the path).
    expect(() => configFor({ file: '../params.json', params: { x: { min: 0, max: 1 } } })).toThrow(/leaves the repository/);
  });
});
