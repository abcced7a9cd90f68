// `npm run build:action`: bundles the GitHub Action (src/action/index.ts) into dist/index.js, the file action.yml
// runs. dist/ is committed, so the output must be byte-for-byte reproducible: no timestamps, no absolute paths,
// packages listed in a fixed order. `.ci/run` fails when the committed dist/ differs from a fresh build.
import { build, type Metafile } from 'esbuild';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ENTRY = 'src/action/index.ts';
const OUT_DIR = 'dist';

/**
 * The bundle is ESM, but some bundled dependencies are CommonJS and call `require`, or read `__filename` and
 * `__dirname`; none of these exist in an ES module, so the banner defines them. `require` keeps its name (esbuild
 * never gives a bundled symbol that name, and its own `__require` shim looks for it); the other two get names of
 * their own, which `define` substitutes for the free references, because some bundled ES modules declare a
 * top-level `__filename` or `__dirname` of their own and the names would clash.
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
  const header = 'Third-party software bundled in dist/index.js, with its licenses.';
  const comments = legalComments.trim();
  return [header, ...sections, ...(comments ? [`Legal comments found in the bundled sources:\n\n${comments}`] : [])]
    .join('\n\n' + '-'.repeat(80) + '\n\n')
    .concat('\n');
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, ENTRY))) throw new Error(`build:action: ${ENTRY} does not exist`);
  // The bundle cannot read autoloop's package.json at run time (src/engine/fingerprint.ts), so it carries the version.
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    outfile: join(OUT_DIR, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: { js: BANNER },
    define: { ...DEFINE, AUTOLOOP_BUNDLED_VERSION: JSON.stringify(version) },
    minify: false,
    sourcemap: false,
    legalComments: 'external',
    charset: 'utf8',
    metafile: true,
    write: false,
    logLevel: 'warning',
  });

  let bundle: Uint8Array | null = null;
  let legal = '';
  for (const file of result.outputFiles) {
    if (file.path.endsWith('.LEGAL.txt')) legal = file.text;
    else if (file.path.endsWith('index.js')) bundle = file.contents;
  }
  if (bundle === null) throw new Error('build:action: esbuild produced no dist/index.js');

  const outDir = join(ROOT, OUT_DIR);
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'index.js'), bundle);
  await writeFile(join(outDir, 'licenses.txt'), await renderLicenses(result.metafile, legal));
  await writeFile(join(outDir, 'package.json'), `${JSON.stringify({ type: 'module' }, null, 2)}\n`);
  const kib = (bundle.byteLength / 1024).toFixed(0);
  console.log(`wrote ${relative(process.cwd(), join(outDir, 'index.js')) || 'dist/index.js'} (${kib} KiB)`);
}

await main();
