// `npm run release:pack`: builds the npm package, the CLI, as a tarball (the release workflow publishes it, and
// scripts/check-install.ts installs it into fresh repositories).
//
// The repository's package.json also carries what the App needs at run time (`npm start`, from `npm ci --omit=dev`
// in this repository) and the action's dependencies (bundled into dist/). A user who installs the CLI needs neither,
// and the App's tree (probot, Octokit) pulls content-type@3, which declares node >=22: an EBADENGINE warning on
// Node 20 that the repository's `overrides` cannot fix, since npm reads overrides only from the root project. So the
// published package is staged apart: the files the CLI loads (followed from bin/autoloop.js through lib/), the schema
// and the examples, and a package.json whose dependencies are the packages those files import, with no scripts (a
// `prepare` in a dependency makes npm warn on install). The repository's package.json is `private`, so that
// `npm publish` there refuses; this tarball is what is published.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The CLI's entry: the one file npm links as the `autoloop` command. */
const ENTRY = 'bin/autoloop.js';
/** Shipped whole, besides the CLI's own files: the demo copies examples/mlp, editors read the schema. */
const DIRECTORIES = ['schema', 'examples'];
/** Fields of the repository's package.json that the published one keeps as they are. */
const KEPT_FIELDS = ['name', 'version', 'description', 'type', 'license', 'engines', 'bin', 'publishConfig'] as const;

export interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [field: string]: unknown;
}

/** The modules a built ES module imports: static imports and re-exports, and `import('…')` with a literal. */
export function importSpecifiers(source: string): string[] {
  const found = new Set<string>();
  const patterns = [/\bfrom\s*['"]([^'"\n]+)['"]/g, /\bimport\s*\(\s*['"]([^'"\n]+)['"]\s*\)/g, /^\s*import\s*['"]([^'"\n]+)['"]/gm];
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) found.add(match[1]!);
  return [...found];
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`), or null for a relative path or a builtin. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return null;
  const name = specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');
  return builtinModules.includes(name) ? null : name;
}

/**
 * The files the CLI loads, relative to `root`, and the packages they import: followed from `entry` through every
 * relative import. A relative import that names no file throws (the walk would otherwise ship a package that fails).
 */
export async function cliClosure(root: string, entry: string = ENTRY): Promise<{ files: string[]; packages: string[] }> {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [resolve(root, entry)];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    const path = relative(root, file);
    if (files.has(path)) continue;
    if (!existsSync(file)) throw new Error(`${path} is imported but does not exist: run npm run build`);
    files.add(path);
    for (const specifier of importSpecifiers(await readFile(file, 'utf8'))) {
      const name = packageOf(specifier);
      if (name !== null) packages.add(name);
      else if (specifier.startsWith('.')) pending.push(resolve(dirname(file), specifier));
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

/**
 * The published package.json: the repository's name, version, bin and engines, `dependencies` cut down to the
 * packages the CLI imports (each must be a dependency of the repository, at its range there), no scripts, and, when
 * known, the repository it is published from (npm's provenance requires `repository.url` to match it).
 */
export function publishedManifest(pkg: PackageJson, packages: string[], repositoryUrl?: string): Record<string, unknown> {
  const dependencies: Record<string, string> = {};
  for (const name of packages) {
    const range = pkg.dependencies?.[name];
    if (range === undefined) {
      const where = pkg.devDependencies?.[name] ? 'a devDependency' : 'not a dependency';
      throw new Error(`the CLI imports ${name}, which is ${where} in package.json: add it to dependencies`);
    }
    dependencies[name] = range;
  }
  const manifest: Record<string, unknown> = {};
  for (const field of KEPT_FIELDS) if (pkg[field] !== undefined) manifest[field] = pkg[field];
  manifest.files = ['bin', 'lib', ...DIRECTORIES];
  if (repositoryUrl) {
    manifest.repository = { type: 'git', url: `git+${repositoryUrl}.git` };
    manifest.homepage = `${repositoryUrl}#readme`;
    manifest.bugs = { url: `${repositoryUrl}/issues` };
  }
  manifest.dependencies = dependencies;
  return manifest;
}

/** The repository a GitHub Actions run publishes from (`https://github.com/owner/name`), or undefined elsewhere. */
export function actionsRepositoryUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.GITHUB_ACTIONS === 'true' && env.GITHUB_REPOSITORY ? `${env.GITHUB_SERVER_URL ?? 'https://github.com'}/${env.GITHUB_REPOSITORY}` : undefined;
}

/** Writes the package's files and its package.json into `stage` (which must not exist yet). */
export async function stagePackage(root: string, stage: string): Promise<Record<string, unknown>> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as PackageJson;
  const { files, packages } = await cliClosure(root);
  await mkdir(stage, { recursive: true });
  for (const file of files) {
    await mkdir(dirname(join(stage, file)), { recursive: true });
    await cp(join(root, file), join(stage, file));
    if (existsSync(join(root, `${file}.map`))) await cp(join(root, `${file}.map`), join(stage, `${file}.map`));
  }
  for (const directory of DIRECTORIES) await cp(join(root, directory), join(stage, directory), { recursive: true });
  for (const file of ['README.md', 'LICENSE']) if (existsSync(join(root, file))) await cp(join(root, file), join(stage, file));
  const manifest = publishedManifest(pkg, packages, actionsRepositoryUrl());
  await writeFile(join(stage, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Stages the package and packs it into `outDir` (default: the current directory, as `npm pack`); returns the tarball's path. lib/ must be built (npm run build). */
export async function packRelease(root: string = ROOT, outDir: string = process.cwd()): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'autoloop-pack-'));
  try {
    const stage = join(work, 'package');
    await stagePackage(root, stage);
    await mkdir(outDir, { recursive: true });
    const { stdout } = await promisify(execFile)('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', resolve(outDir)], { cwd: stage });
    const [packed] = JSON.parse(stdout) as { filename: string }[];
    return join(resolve(outDir), packed!.filename);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = process.argv.indexOf('--out');
  const tarball = await packRelease(ROOT, out > 0 ? process.argv[out + 1] : process.cwd());
  console.log(relative(process.cwd(), tarball) || tarball);
}
