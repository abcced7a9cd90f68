// `npm run schema`: regenerates the committed JSON Schema from the zod schema.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_SCHEMA_FILE, renderConfigJsonSchema } from '../src/core/config/json-schema.js';

const target = fileURLToPath(new URL(`../${CONFIG_SCHEMA_FILE}`, import.meta.url));
await mkdir(dirname(target), { recursive: true });
await writeFile(target, renderConfigJsonSchema());
console.log(`wrote ${relative(process.cwd(), target) || target}`);
