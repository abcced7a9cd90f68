import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, isAbsolute, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEMO_MARKER, DEMO_PREFIX, prepareDemoRepo } from '../../src/engine/demo.js';

describe('prepareDemoRepo', () => {
  it('makes a temp repository whose path is absolute, named and marked as the demo', async () => {
    const dir = await prepareDemoRepo();
    expect(isAbsolute(dir)).toBe(true);
    expect(basename(dir).startsWith(DEMO_PREFIX)).toBe(true);
    expect(readFileSync(join(dir, '.git', DEMO_MARKER), 'utf8')).toContain('autoloop demo');
    expect(existsSync(join(dir, 'params.json'))).toBe(true);
  });

  it('returns an absolute path for a relative --dir too', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'autoloop-demo-parent-'));
    const dir = await prepareDemoRepo(relative(process.cwd(), join(parent, 'here')));
    expect(dir).toBe(join(parent, 'here'));
  });
});
