// `npm run check:install` (.ci/run runs it): the package as a user gets it, on every Node autoloop supports. It packs
// the package (scripts/pack.ts; or takes `--tarball FILE`), then for this machine's Node and for Node 22 and 24 (from
// the npm registry's node-<platform>-<arch> packages, npm itself run by that Node), in a fresh git repository:
// `npm init -y`, `npm install` of the tarball (any line npm warns or errors with fails the check, and `npm ls` must
// find the tree whole), `npx autoloop --help`, `validate` on the bundled example copied in (the `$schema` modeline and
// the path a config error points to must resolve in node_modules), `run --experiments 2` there and
// `demo --experiments 2`; then a repository of its own with no config: `init --yes` and `run --experiments 2`. It
// prints each step's time, the warnings found, and fails if any step did.
//
// `AUTOLOOP_INSTALL_CHECK_NODES` chooses the Nodes: majors from the registry, `current` for this machine's
// (default `current,22,24`).
import { execFile, type ExecFileException } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packRelease } from './pack.js';

/** A line of npm's output that a user would see as a problem: a warning or an error (EBADENGINE, deprecated, …). */
const NPM_PROBLEM = /^npm (warn|WARN|error|ERR!)\b|EBADENGINE/;

export interface CommandResult {
  code: number;
  output: string;
  seconds: number;
}

/** npm's warning and error lines in `output`. */
export function npmProblems(output: string): string[] {
  return output.split('\n').filter((line) => NPM_PROBLEM.test(line));
}

/** The schema path a config error's hint names, relative to the repository: `node_modules/…/….schema.json`. */
export function hintedSchemaPath(output: string): string | null {
  return /\b(node_modules\/\S+\.schema\.json)\b/.exec(output)?.[1] ?? null;
}

/**
 * The environment a user's shell would give npm: this one without what `npm run` adds (`npm_config_*` would
 * configure the nested npm, `npm_package_*` describe this repository), with `bin` first on PATH.
 */
export function userEnv(bin: string | null, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(env)) if (!/^npm_/i.test(key) && key !== 'INIT_CWD') clean[key] = value;
  if (bin !== null) clean.PATH = `${bin}${delimiter}${env.PATH ?? ''}`;
  clean.npm_config_update_notifier = 'false';
  return clean;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((done) => {
    execFile(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 10 * 60_000 }, (error: ExecFileException | null, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      done({ code, output: `${stdout}${stderr}`, seconds: (performance.now() - started) / 1000 });
    });
  });
}

/** Installs Node `major` from the npm registry under `dir`; returns its bin directory. */
async function registryNode(major: string, dir: string): Promise<string> {
  const name = `node-${process.platform}-${process.arch}`;
  await mkdir(dir, { recursive: true });
  const result = await run('npm', ['install', '--prefix', dir, '--no-save', '--no-audit', '--no-fund', `${name}@${major}`], dir, userEnv(null));
  if (result.code !== 0) throw new Error(`npm install ${name}@${major} failed:\n${result.output}`);
  return join(dir, 'node_modules', name, 'bin');
}

interface Step {
  name: string;
  ok: boolean;
  seconds: number;
  detail?: string;
}

/** Everything a user does after `npm install`, in `repo`, with `env`'s Node; each step's outcome. */
async function checkOne(tarball: string, packageName: string, repo: string, env: NodeJS.ProcessEnv): Promise<{ steps: Step[]; warnings: string[] }> {
  const steps: Step[] = [];
  const step = (name: string, result: CommandResult, ok: boolean, detail?: string): boolean => {
    steps.push({ name, ok, seconds: result.seconds, detail: ok ? detail : (detail ?? result.output.trim().split('\n').slice(-15).join('\n')) });
    return ok;
  };
  const sh = (command: string, ...args: string[]): Promise<CommandResult> => run(command, args, repo, env);
  // As a user types it; never from the registry (`--no` would make npx take `--help` for its own).
  const autoloop = (...args: string[]): Promise<CommandResult> => run('npx', ['autoloop', ...args], repo, { ...env, npm_config_yes: 'false' });

  await mkdir(repo, { recursive: true });
  await sh('git', 'init', '--quiet', '--initial-branch=main');
  await sh('npm', 'init', '-y');
  // The bundled example is an ES module, as a user's evaluator may be.
  await sh('npm', 'pkg', 'set', 'type=module');
  await writeFile(join(repo, '.gitignore'), 'node_modules/\n');

  const install = await sh('npm', 'install', '--no-audit', '--no-fund', tarball);
  const warnings = npmProblems(install.output);
  if (!step('npm install', install, install.code === 0 && warnings.length === 0, warnings.length ? warnings.join('\n') : undefined)) return { steps, warnings };
  const ls = await sh('npm', 'ls', '--all');
  step('npm ls --all', ls, ls.code === 0);

  const help = await autoloop('--help');
  step('npx autoloop --help', help, help.code === 0 && help.output.includes('autoloop validate'));

  // The user's repository: the bundled example's files, its config starting with the schema modeline.
  const installed = join(repo, 'node_modules', packageName);
  const example = join(installed, 'examples', 'mlp');
  for (const file of ['train.js', 'params.json', '.github']) await cp(join(example, file), join(repo, file), { recursive: true });
  const schemaPath = `../node_modules/${packageName}/schema/autoloop.schema.json`;
  const config = await readFile(join(repo, '.github/autoloop.yml'), 'utf8');
  await writeFile(join(repo, '.github/autoloop.yml'), `# yaml-language-server: $schema=${schemaPath}\n${config}`);
  const modeline = resolve(repo, '.github', schemaPath);
  steps.push({ name: 'the $schema modeline resolves', ok: existsSync(modeline) && JSON.parse(await readFile(modeline, 'utf8')).title !== undefined, seconds: 0 });
  await sh('git', 'add', '--all');
  await sh('git', '-c', 'user.name=check', '-c', 'user.email=check@example.invalid', 'commit', '--quiet', '-m', 'the example');

  const validate = await autoloop('validate');
  step('npx autoloop validate', validate, validate.code === 0 && validate.output.includes('is valid'));
  await writeFile(join(repo, 'bad.yml'), config.replace('timeout: 30s', 'tmeout: 30s'));
  const invalid = await autoloop('validate', '--config', 'bad.yml');
  const hinted = hintedSchemaPath(invalid.output);
  step('npx autoloop validate (a typo)', invalid, invalid.code === 3 && hinted !== null && existsSync(join(repo, hinted)), `hint: ${hinted ?? 'none'}`);
  await rm(join(repo, 'bad.yml'));

  const loop = await autoloop('run', '--experiments', '2', '--tag', 'install-check');
  step('npx autoloop run --experiments 2', loop, loop.code === 0);
  const demo = await autoloop('demo', '--experiments', '2', '--dir', join(repo, '..', 'demo'));
  step('npx autoloop demo --experiments 2', demo, demo.code === 0);

  // A user's own repository with no config yet: `init --yes` writes one, proves the evaluator works, and `run` runs it.
  // The installed package in `repo` serves it (npx finds the bin up the tree only in `repo`, so it is called by path).
  const own = join(repo, '..', 'own');
  const inOwn = (command: string, ...args: string[]) => run(command, args, own, env);
  const bin = join(repo, 'node_modules', '.bin', 'autoloop');
  await mkdir(own, { recursive: true });
  for (const file of ['train.js', 'params.json']) await cp(join(example, file), join(own, file));
  await writeFile(join(own, 'package.json'), `${JSON.stringify({ name: 'own', private: true, type: 'module', scripts: { bench: 'node train.js' } }, null, 2)}\n`);
  await inOwn('git', 'init', '--quiet', '--initial-branch=main');
  await inOwn('git', 'add', '--all');
  await inOwn('git', '-c', 'user.name=check', '-c', 'user.email=check@example.invalid', 'commit', '--quiet', '-m', 'own');
  const init = await inOwn(bin, 'init', '--yes');
  step('autoloop init --yes (a repository of its own)', init, init.code === 0 && init.output.includes('The evaluator works'));
  await inOwn('git', 'add', '.github');
  await inOwn('git', '-c', 'user.name=check', '-c', 'user.email=check@example.invalid', 'commit', '--quiet', '-m', 'autoloop');
  const ownRun = await inOwn(bin, 'run', '--experiments', '2');
  step('autoloop run --experiments 2 (after init)', ownRun, ownRun.code === 0);
  return { steps, warnings };
}

async function main(): Promise<number> {
  const started = performance.now();
  const work = await mkdtemp(join(tmpdir(), 'autoloop-install-check-'));
  try {
    const given = process.argv.indexOf('--tarball');
    const tarball = given > 0 ? resolve(process.argv[given + 1]!) : await packRelease(undefined, work);
    const { stdout } = await new Promise<{ stdout: string }>((done, fail) =>
      execFile('tar', ['-xOzf', tarball, 'package/package.json'], (error, out) => (error ? fail(error) : done({ stdout: out }))),
    );
    const packageName = (JSON.parse(stdout) as { name: string }).name;
    console.log(`install check: ${tarball} (${packageName})`);
    // On a machine whose Node is 24 (CI's Node 24 job), `current` is that one: it is not installed again.
    const currentMajor = process.versions.node.split('.')[0];
    const nodes = (process.env.AUTOLOOP_INSTALL_CHECK_NODES ?? 'current,22,24')
      .split(',')
      .map((n) => n.trim())
      .filter((n, _, all) => n !== '' && !(n === currentMajor && all.includes('current')));
    let failed = 0;
    for (const node of nodes) {
      const bin = node === 'current' ? null : await registryNode(node, join(work, `node-${node}`));
      const env = userEnv(bin);
      const version = (await run('node', ['--version'], work, env)).output.trim();
      const { steps, warnings } = await checkOne(tarball, packageName, join(work, `repo-${node}`, 'repo'), env);
      // The warnings themselves are listed under the failed `npm install` step.
      console.log(`\nNode ${version}: ${warnings.length} npm warning(s)`);
      for (const s of steps) {
        console.log(`  ${s.ok ? 'ok  ' : 'FAIL'} ${s.name} (${s.seconds.toFixed(1)} s)${s.detail ? `\n       ${s.detail.split('\n').join('\n       ')}` : ''}`);
        if (!s.ok) failed++;
      }
    }
    console.log(`\ninstall check: ${failed === 0 ? 'passed' : `${failed} step(s) failed`} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    return failed === 0 ? 0 : 1;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = await main();
