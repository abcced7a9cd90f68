import { z } from 'zod';
import { configSchema } from './config-schema.js';

/** Where the generated JSON Schema is committed, relative to the package root (`npm run schema` writes it). */
export const CONFIG_SCHEMA_FILE = 'schema/autoloop.schema.json';
/** The schema's `$id`: the copy shipped in the npm package, so editors can fetch it by URL. */
export const CONFIG_SCHEMA_ID = 'https://unpkg.com/autoloop/schema/autoloop.schema.json';

/**
 * The JSON Schema of `.github/autoloop.yml`, generated from the zod schema so the two never disagree.
 * It describes the input (what a user writes: `5m`, `1%`), not the parsed output.
 */
export function configJsonSchema(): object {
  const { $schema, ...rest } = z.toJSONSchema(configSchema, { io: 'input' });
  return { $schema, $id: CONFIG_SCHEMA_ID, title: 'autoloop config (.github/autoloop.yml)', ...rest };
}

/** The committed file's exact text: 2-space JSON and a final newline. */
export function renderConfigJsonSchema(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
