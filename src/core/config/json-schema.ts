import { z } from 'zod';
import { configSchema } from './config-schema.js';

/** The npm package autoloop is published as (package.json's `name`; the command it installs is `autoloop`). */
export const PACKAGE_NAME = '@autoloop-dev/autoloop';
/** Where the generated JSON Schema is committed, relative to the package root (`npm run schema` writes it). */
export const CONFIG_SCHEMA_FILE = 'schema/autoloop.schema.json';
/** Where the schema is in a repository that installed the package: the path config errors point to. */
export const INSTALLED_CONFIG_SCHEMA = `node_modules/${PACKAGE_NAME}/${CONFIG_SCHEMA_FILE}`;
/** The first line of a `.github/autoloop.yml` whose editor (yaml-language-server) should complete and check it. */
export const CONFIG_SCHEMA_MODELINE = `# yaml-language-server: $schema=../${INSTALLED_CONFIG_SCHEMA}`;

/**
 * The JSON Schema of `.github/autoloop.yml`, generated from the zod schema so the two never disagree.
 * It describes the input (what a user writes: `5m`, `1%`), not the parsed output. It has no `$id`: no URL serves it;
 * a config names it by its path in node_modules ({@link CONFIG_SCHEMA_MODELINE}).
 */
export function configJsonSchema(): object {
  const { $schema, ...rest } = z.toJSONSchema(configSchema, { io: 'input' });
  return { $schema, title: 'autoloop config (.github/autoloop.yml)', ...rest };
}

/** The committed file's exact text: 2-space JSON and a final newline. */
export function renderConfigJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
