import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CONFIG_SCHEMA_FILE, CONFIG_SCHEMA_MODELINE, INSTALLED_CONFIG_SCHEMA, PACKAGE_NAME } from '../../src/core/config/json-schema.js';
import { hintedSchemaPath, npmProblems, userEnv } from '../../scripts/check-install.js';
import { actionsRepositoryUrl, cliClosure, importSpecifiers, packageOf, publishedManifest, type PackageJson } from '../../scripts/pack.js';

const ROOT = new URL('../../', import.meta.url);
const repoPackage = JSON.parse(await readFile(new URL('package.json', ROOT), 'utf8')) as PackageJson & { private?: boolean };

const PKG: PackageJson = {
  name: '@autoloop-dev/autoloop',
  version: '1.2.3',
  private: true,
  type: 'module',
  engines: { node: '>=20.18' },
  bin: { autoloop: 'bin/autoloop.js' },
  scripts: { prepare: 'npm run build', start: 'probot run ./lib/app/index.js' },
  dependencies: { probot: '^14.3.2', yaml: '^2.9.1', zod: '^4.6.7' },
  devDependencies: { vitest: '^4.1.12' },
  overrides: { '@octokit/request': '10.0.14' },
};

describe('the package name', () => {
  it('is the scoped name the schema paths are built from', () => {
    expect(repoPackage.name).toBe(PACKAGE_NAME);
    expect(INSTALLED_CONFIG_SCHEMA).toBe(`node_modules/${PACKAGE_NAME}/${CONFIG_SCHEMA_FILE}`);
    // From .github/autoloop.yml, one level up is the repository, where node_modules is.
    expect(CONFIG_SCHEMA_MODELINE).toBe('# yaml-language-server: $schema=../node_modules/@autoloop-dev/autoloop/schema/autoloop.schema.json');
  });

  it('refuses `npm publish` of the repository itself: the staged package is what is published', () => {
    expect(repoPackage.private).toBe(true);
    expect(repoPackage.files).toContain(CONFIG_SCHEMA_FILE.split('/')[0]);
  });
});

describe('importSpecifiers and packageOf', () => {
  it('finds static imports, re-exports, side-effect imports and literal dynamic imports', () => {
    const source = [
      "import { a } from './a.js';",
      "export * from '../b.js';",
      "import './side.js';",
      "const sdk = await import('@anthropic-ai/sdk');",
      "import { parse } from 'yaml';",
      "import { readFile } from 'node:fs/promises';",
    ].join('\n');
    expect(importSpecifiers(source).sort()).toEqual(['../b.js', './a.js', './side.js', '@anthropic-ai/sdk', 'node:fs/promises', 'yaml']);
  });

  it('names the package of a bare specifier, and none for paths and builtins', () => {
    expect(packageOf('@octokit/rest/dist/index.js')).toBe('@octokit/rest');
    expect(packageOf('zod/v4')).toBe('zod');
    expect(packageOf('./x.js')).toBeNull();
    expect(packageOf('node:fs')).toBeNull();
    expect(packageOf('fs')).toBeNull();
  });
});

describe('cliClosure', () => {
  const roots: string[] = [];
  const tempRoot = async (): Promise<string> => {
    const root = await mkdtemp(join(tmpdir(), 'autoloop-pack-test-'));
    roots.push(root);
    return root;
  };
  afterEach(async () => {
    for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
  });

  it('follows relative imports from the entry and collects the packages they import', async () => {
    const root = await tempRoot();
    await mkdir(join(root, 'bin'));
    await mkdir(join(root, 'lib/cli'), { recursive: true });
    await mkdir(join(root, 'lib/app'), { recursive: true });
    await writeFile(join(root, 'bin/autoloop.js'), "import '../lib/cli/index.js';\n");
    await writeFile(join(root, 'lib/cli/index.js'), "import { parse } from 'yaml';\nconst m = await import('./lazy.js');\n");
    await writeFile(join(root, 'lib/cli/lazy.js'), "export { z } from 'zod';\n");
    await writeFile(join(root, 'lib/app/index.js'), "import { Probot } from 'probot';\n");
    expect(await cliClosure(root)).toEqual({ files: ['bin/autoloop.js', 'lib/cli/index.js', 'lib/cli/lazy.js'], packages: ['yaml', 'zod'] });
  });

  it('refuses an import of a file that is not there', async () => {
    const root = await tempRoot();
    await mkdir(join(root, 'bin'));
    await writeFile(join(root, 'bin/autoloop.js'), "import '../lib/cli/index.js';\n");
    await expect(cliClosure(root)).rejects.toThrow(/lib\/cli\/index\.js is imported but does not exist/);
  });
});

describe('publishedManifest', () => {
  it("keeps the CLI's dependencies at the repository's ranges, and no scripts, overrides or private flag", () => {
    expect(publishedManifest(PKG, ['yaml', 'zod'])).toEqual({
      name: '@autoloop-dev/autoloop',
      version: '1.2.3',
      type: 'module',
      engines: { node: '>=20.18' },
      bin: { autoloop: 'bin/autoloop.js' },
      files: ['bin', 'lib', 'schema', 'examples'],
      dependencies: { yaml: '^2.9.1', zod: '^4.6.7' },
    });
  });

  it('names the repository it is published from, as provenance requires', () => {
    const manifest = publishedManifest(PKG, [], 'https://github.com/acme/autoloop');
    expect(manifest).toMatchObject({
      repository: { type: 'git', url: 'git+https://github.com/acme/autoloop.git' },
      homepage: 'https://github.com/acme/autoloop#readme',
      bugs: { url: 'https://github.com/acme/autoloop/issues' },
    });
    expect(actionsRepositoryUrl({ GITHUB_ACTIONS: 'true', GITHUB_REPOSITORY: 'acme/autoloop', GITHUB_SERVER_URL: 'https://github.com' })).toBe('https://github.com/acme/autoloop');
    expect(actionsRepositoryUrl({ GITHUB_REPOSITORY: 'acme/autoloop' })).toBeUndefined();
  });

  it('refuses a package the CLI imports that users would not get', () => {
    expect(() => publishedManifest(PKG, ['vitest'])).toThrow('the CLI imports vitest, which is a devDependency in package.json: add it to dependencies');
    expect(() => publishedManifest(PKG, ['left-pad'])).toThrow('which is not a dependency');
  });
});

describe('the install check', () => {
  it("counts npm's warnings and errors, not its other lines", () => {
    const output = [
      'npm warn EBADENGINE Unsupported engine {',
      "npm warn EBADENGINE   package: 'content-type@3.1.1',",
      'added 13 packages in 12s',
      'npm warn deprecated glob@7.2.3: Glob versions prior to v9 are no longer supported',
      'npm notice New minor version of npm available!',
    ].join('\n');
    expect(npmProblems(output)).toHaveLength(3);
  });

  it('reads the schema path a config error points to', () => {
    expect(hintedSchemaPath('a.yml:1: x: unknown key\nSee node_modules/@autoloop-dev/autoloop/schema/autoloop.schema.json or the README.')).toBe(INSTALLED_CONFIG_SCHEMA);
    expect(hintedSchemaPath('nothing here')).toBeNull();
  });

  it("gives npm a user's environment: without npm run's variables, the chosen Node first on PATH", () => {
    const env = userEnv('/opt/node24/bin', { PATH: '/usr/bin', npm_config_prefix: '/x', npm_package_name: 'autoloop', INIT_CWD: '/w', HOME: '/root' });
    expect(env).toEqual({ PATH: '/opt/node24/bin:/usr/bin', HOME: '/root', npm_config_update_notifier: 'false' });
  });
});
