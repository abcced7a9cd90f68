import { build, type Metafile } from 'esbuild';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { actionBuildOptions, ENTRY } from '../../scripts/build-action.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = join(ROOT, 'dist');

/** The packages (or source folders) of the inputs in `outputs`. */
function packagesIn(metafile: Metafile, outputs: Iterable<string>): Set<string> {
  const packages = new Set<string>();
  for (const output of outputs) {
    for (const input of Object.keys(metafile.outputs[output]!.inputs)) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      packages.add(match ? match[1]! : input);
    }
  }
  return packages;
}

/** The output holding `source`, and every output it imports statically: what Node parses before `source` runs. */
function loadedWith(metafile: Metafile, source: string): Set<string> {
  const start = Object.entries(metafile.outputs).find(([, output]) => source in output.inputs)?.[0];
  if (!start) throw new Error(`no output holds ${source}`);
  const seen = new Set<string>();
  const visit = (output: string): void => {
    if (seen.has(output)) return;
    seen.add(output);
    for (const imported of metafile.outputs[output]!.imports) if (imported.kind === 'import-statement' && imported.path in metafile.outputs) visit(imported.path);
  };
  visit(start);
  return seen;
}

/** The chunk that an `import()` loads whose target (the module imported) is `module`, or lies below it; if any. */
function dynamicChunkOf(metafile: Metafile, module: string): string | undefined {
  const targets = new Set(Object.values(metafile.outputs).flatMap((output) => output.imports.filter((i) => i.kind === 'dynamic-import').map((i) => i.path)));
  return [...targets].find((path) => metafile.outputs[path]?.entryPoint?.startsWith(module));
}

const MODEL_SDKS = ['openai', '@anthropic-ai/sdk'];

let metafile: Metafile;
beforeAll(async () => {
  // In memory (write: false): the split as the sources make it now, whatever dist/ holds.
  metafile = (await build(actionBuildOptions(ENTRY, OUT, '0.0.0-test'))).metafile;
}, 60_000);

describe('the action bundle, split by what each mode loads (scripts/build-action.ts)', () => {
  it('starts with the inputs: a bad input fails before a mode, the config, Octokit, the artifact client or a model SDK is parsed', () => {
    const atStart = packagesIn(metafile, loadedWith(metafile, 'src/action/index.ts'));
    expect(atStart).toContain('src/action/inputs.ts');
    for (const heavy of ['src/action/evaluate.ts', 'src/action/propose.ts', 'src/action/loop.ts', 'src/core/config/config.ts', 'yaml', '@octokit/rest', '@actions/artifact', ...MODEL_SDKS]) {
      expect(atStart, heavy).not.toContain(heavy);
    }
  });

  it('never parses a model SDK in evaluate, nor in propose or loop until the llm proposer makes a request', () => {
    for (const mode of ['evaluate', 'propose', 'loop']) {
      const loaded = packagesIn(metafile, loadedWith(metafile, `src/action/${mode}.ts`));
      for (const sdk of MODEL_SDKS) expect(loaded, `${mode}: ${sdk}`).not.toContain(sdk);
    }
    expect(packagesIn(metafile, loadedWith(metafile, 'src/action/evaluate.ts'))).not.toContain('@octokit/rest');
    // Each SDK is still in the bundle, in a chunk of its own that llm.ts imports when it first asks the model.
    for (const sdk of MODEL_SDKS) expect(dynamicChunkOf(metafile, `node_modules/${sdk}/`), sdk).toBeDefined();
  });

  it('loads the artifact client only to upload, and Octokit with its retry and throttling plugins only for propose and loop', () => {
    for (const mode of ['evaluate', 'propose', 'loop']) {
      expect(packagesIn(metafile, loadedWith(metafile, `src/action/${mode}.ts`)), mode).not.toContain('@actions/artifact');
    }
    const artifacts = dynamicChunkOf(metafile, 'src/action/artifacts.ts');
    expect(artifacts).toBeDefined();
    expect(packagesIn(metafile, loadedWith(metafile, 'src/action/artifacts.ts'))).toContain('@actions/artifact');
    for (const name of ['@octokit/rest', '@octokit/plugin-retry', '@octokit/plugin-throttling']) expect(dynamicChunkOf(metafile, `node_modules/${name}/`), name).toBeDefined();
  });
});

describe('the action fails its step in one place', () => {
  it('calls core.setFailed only in src/action/run.ts, once', () => {
    const calls = readdirSync(join(ROOT, 'src/action'))
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) => [...readFileSync(join(ROOT, 'src/action', file), 'utf8').matchAll(/\bsetFailed\(/g)].map(() => file));
    expect(calls).toEqual(['run.ts']);
  });
});
