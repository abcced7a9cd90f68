import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config/config.js';

const run = promisify(execFile);
const EXAMPLE = fileURLToPath(new URL('../../examples/mlp', import.meta.url));
const DEFAULT_VAL_LOSS = 0.045629145;
const temps: string[] = [];

afterAll(async () => {
  await Promise.all(temps.map((dir) => rm(dir, { recursive: true, force: true })));
});

function metrics(stdout: string): Record<string, number> {
  return Object.fromEntries([...stdout.matchAll(/^METRIC (\w+)=(\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

/** Runs train.js on a copy of the example, with `params` merged into its params.json. */
async function train(params: Record<string, unknown> = {}): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'autoloop-mlp-'));
  temps.push(dir);
  await cp(EXAMPLE, dir, { recursive: true });
  const defaults = JSON.parse(await readFile(join(dir, 'params.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'params.json'), JSON.stringify({ ...defaults, ...params }));
  const { stdout } = await run(process.execPath, ['train.js'], { cwd: dir });
  return metrics(stdout);
}

describe('examples/mlp', () => {
  it('prints a finite val_loss and train_seconds, the same on every run', async () => {
    const [first, second] = await Promise.all([train(), run(process.execPath, ['train.js'], { cwd: EXAMPLE }).then(({ stdout }) => metrics(stdout))]);
    expect(Number.isFinite(first!.val_loss)).toBe(true);
    expect(first!.train_seconds).toBeGreaterThan(0);
    expect(first!.train_seconds).toBeLessThan(10);
    expect(second!.val_loss).toBe(first!.val_loss);
    // The figure the README quotes for the committed params.json.
    expect(first!.val_loss).toBe(DEFAULT_VAL_LOSS);
  });

  it('rewards a better learning rate and reaches near the noise floor with tuned settings', async () => {
    const [better, tuned] = await Promise.all([
      train({ learning_rate: 0.03 }),
      train({ learning_rate: 0.03, momentum: 0.5, hidden_units: 8, weight_decay: 1e-6, batch_size: 8, init_scale: 1, activation: 'tanh' }),
    ]);
    expect(better.val_loss).toBeLessThan(DEFAULT_VAL_LOSS * 0.7);
    expect(tuned.val_loss).toBeLessThan(0.0105);
    // The validation targets carry noise of variance 0.01: nothing beats the true function's 0.00938.
    expect(tuned.val_loss).toBeGreaterThan(0.0093);
  });

  it('fails loudly when training diverges or params.json is wrong', async () => {
    await expect(train({ learning_rate: 1e5 })).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('diverged') });
    await expect(train({ activation: 'gelu' })).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('activation') });
  });

  it('ships a valid config that tunes params.json and protects train.js', async () => {
    const text = await readFile(join(EXAMPLE, '.github/autoloop.yml'), 'utf8');
    const config = parseConfig(text, '.github/autoloop.yml');
    expect(config.metric).toMatchObject({ name: 'val_loss', goal: 'minimize', min_effect: { kind: 'relative', value: 0.005 } });
    expect(config.evaluate).toMatchObject({ command: 'node train.js', timeout: 30_000, repeats: 1 });
    expect(config.scope).toEqual({ edit: ['params.json'], protect: ['train.js'] });
    expect(config.budget.experiments).toBe(15);
    const params = JSON.parse(await readFile(join(EXAMPLE, 'params.json'), 'utf8')) as Record<string, unknown>;
    // Every tuned key exists in params.json, so each proposal changes a real knob.
    expect(Object.keys(params).sort()).toEqual(Object.keys(config.proposer.tune!.params).sort());
  });
});
