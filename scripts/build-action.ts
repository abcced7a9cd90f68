// `npm run build:action`: bundles the GitHub Action (src/action/index.ts) into dist/: the entry dist/index.js, the
// file action.yml runs, and the chunks it loads when it needs them (dist/chunks/). dist/ is committed, so the output
// must be byte-for-byte reproducible: no timestamps, no absolute paths, packages listed in a fixed order. `.ci/run`
// fails when the committed dist/ differs from a fresh build.
//
// The bundle is split (esbuild's code splitting) and minified so that the step starts fast: the entry holds only what
// reads and checks the inputs, and each `await import()` of the sources (a mode, the artifact client, Octokit, a
// model SDK) becomes a chunk that Node parses only when that import runs. A bad input fails before any mode is loaded;
// `evaluate`, and `propose` with the `tune` proposer, never parse a model SDK (bench/action-start.ts measures it).
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The action's entry: action.yml's `runs.main` is `dist/index.js`. */
export const ENTRY = 'src/action/index.ts';
export const OUT_DIR = 'dist';

/**
 * The bundle is ESM, but some bundled dependencies are CommonJS and call `require`, or read `__filename` and
 * `__dirname`; none of these exist in an ES module, so the banner (at the top of the entry and of every chunk) defines
 * them. `require` keeps its name (esbuild never gives a bundled symbol that name, and its own `__require` shim looks for
 * it); the other two get names of their own, which `define` substitutes for the free references, because some bundled
 * ES modules declare a top-level `__filename` or `__dirname` of their own and the names would clash. Every chunk lies
 * in dist/ or below it, and nothing bundled reads `__dirname` for a file of its own.
 */
const BANNER = [
  "import { createRequire as __autoloopCreateRequire } from 'node:module';",
  "import { dirname as __autoloopDirname } from 'node:path';",
  "import { fileURLToPath as __autoloopFileURLToPath } from 'node:url';",
  'const require = __autoloopCreateRequire(import.meta.url);',
  'const __autoloopFilename = __autoloopFileURLToPath(import.meta.url);',
  'const __autoloopDirnameValue = __autoloopDirname(__autoloopFilename);',
].join('\n');
const DEFINE = { __filename: '__autoloopFilename', __dirname: '__autoloopDirnameValue' };

/**
 * esbuild's options for an action whose entry is `entry` (relative to the repository), written to `outDir`: ESM for
 * Node 20 and later (the runners' Node 24 included), split into chunks at every dynamic import, minified. The bench
 * bundles its minimal action with the same options, so that the two are compared like for like.
 */
export function actionBuildOptions(entry: string, outDir: string, version: string): BuildOptions & { metafile: true; write: false } {
  return {
    absWorkingDir: ROOT,
    entryPoints: { index: entry },
    outdir: outDir,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: { js: BANNER },
    define: { ...DEFINE, AUTOLOOP_BUNDLED_VERSION: JSON.stringify(version) },
    minify: true,
    sourcemap: false,
    legalComments: 'external',
    charset: 'utf8',
    metafile: true,
    write: false,
    logLevel: 'warning',
  };
}

/** How esbuild starts each file of legal comments it extracts. */
const LEGAL_HEADER = 'Bundled license information:';

interface BundledPackage {
  name: string;
  version: string;
  license: string;
  licenseText: string | null;
}

/** The directory of the package that owns `input` (a metafile path like `node_modules/@a/b/lib/x.js`), if any. */
function packageDirOf(input: string): string | null {
  const parts = input.split('/');
  const at = parts.lastIndexOf('node_modules');
  if (at < 0 || at + 1 >= parts.length) return null;
  const scoped = parts[at + 1]!.startsWith('@');
  const end = at + (scoped ? 3 : 2);
  if (end > parts.length) return null;
  return parts.slice(0, end).join('/');
}

async function describePackage(dir: string): Promise<BundledPackage> {
  const manifest = JSON.parse(await readFile(join(ROOT, dir, 'package.json'), 'utf8')) as {
    name?: string;
    version?: string;
    license?: string | { type?: string };
  };
  const license = typeof manifest.license === 'string' ? manifest.license : (manifest.license?.type ?? 'UNKNOWN');
  const files = (await readdir(join(ROOT, dir))).filter((f) => /^(licen[cs]e|copying|notice)(\.|$)/i.test(f)).sort();
  const texts = await Promise.all(files.map((f) => readFile(join(ROOT, dir, f), 'utf8')));
  return {
    name: manifest.name ?? dir,
    version: manifest.version ?? '',
    license,
    licenseText: texts.length > 0 ? texts.map((t) => t.trim()).join('\n\n') : null,
  };
}

/** dist/licenses.txt: every bundled package with its license text, then the legal comments esbuild extracted. */
async function renderLicenses(metafile: Metafile, legalComments: string): Promise<string> {
  const dirs = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const dir = packageDirOf(input);
    if (dir !== null && existsSync(join(ROOT, dir, 'package.json'))) dirs.add(dir);
  }
  const packages = await Promise.all([...dirs].map(describePackage));
  const unique = new Map<string, BundledPackage>();
  for (const p of packages) unique.set(`${p.name}@${p.version}`, p);
  const sorted = [...unique.values()].sort((a, b) =>
    a.name === b.name ? a.version.localeCompare(b.version, 'en') : a.name.localeCompare(b.name, 'en'),
  );
  const sections = sorted.map(
    (p) =>
      `${p.name}@${p.version}\n${p.license}\n${p.licenseText ?? '(no license file in the package; see its package.json)'}`,
  );
  const header = 'Third-party software bundled in dist/ (index.js and chunks/), with its licenses.';
  const comments = legalComments.trim();
  return [header, ...sections, ...(comments ? [`Legal comments found in the bundled sources:\n\n${comments}`] : [])]
    .join('\n\n' + '-'.repeat(80) + '\n\n')
    .concat('\n');
}

/**
 * Bundles `entry` into `outDir` (emptied first): the entry `index.js`, its chunks, `licenses.txt` and a `package.json`
 * that makes Node read them as ES modules. Returns the files written (relative to `outDir`) with their sizes, and
 * esbuild's metafile (which output holds which input, and how the outputs import each other).
 */
export async function buildAction(options: { entry?: string; outDir?: string } = {}): Promise<{ files: Array<{ path: string; bytes: number }>; metafile: Metafile }> {
  const entry = options.entry ?? ENTRY;
  const outDir = resolve(ROOT, options.outDir ?? OUT_DIR);
  if (!existsSync(join(ROOT, entry))) throw new Error(`build:action: ${entry} does not exist`);
  // The bundle cannot read autoloop's package.json at run time (src/engine/fingerprint.ts), so it carries the version.
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const result = await build(actionBuildOptions(entry, outDir, version));

  // esbuild writes the legal comments of each output to a file of its own ("Bundled license information:", then one
  // block per source file): merged here, each block once, sorted by the source file it names.
  const legal = new Set<string>();
  const code = result.outputFiles.filter((file) => !file.path.endsWith('.LEGAL.txt'));
  for (const file of result.outputFiles.filter((f) => f.path.endsWith('.LEGAL.txt'))) {
    for (const block of file.text.replace(LEGAL_HEADER, '').trim().split(/\n\n(?=\S)/)) if (block.trim()) legal.add(block.trim());
  }
  const legalText = legal.size > 0 ? `${LEGAL_HEADER}\n\n${[...legal].sort((x, y) => x.localeCompare(y, 'en')).join('\n\n')}` : '';
  if (!code.some((file) => file.path === join(outDir, 'index.js'))) throw new Error(`build:action: esbuild produced no ${relative(ROOT, join(outDir, 'index.js'))}`);

  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  for (const file of code) {
    await mkdir(dirname(file.path), { recursive: true });
    await writeFile(file.path, file.contents);
  }
  await writeFile(join(outDir, 'licenses.txt'), await renderLicenses(result.metafile, legalText));
  await writeFile(join(outDir, 'package.json'), `${JSON.stringify({ type: 'module' }, null, 2)}\n`);
  return { files: code.map((file) => ({ path: relative(outDir, file.path), bytes: file.contents.byteLength })), metafile: result.metafile };
}

async function main(): Promise<void> {
  const { files } = await buildAction();
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;
  const entry = files.find((file) => file.path === 'index.js')!;
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  console.log(`wrote ${OUT_DIR}/index.js (${kib(entry.bytes)}) and ${files.length - 1} chunks in ${OUT_DIR}/chunks/ (${kib(total)} in all)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
