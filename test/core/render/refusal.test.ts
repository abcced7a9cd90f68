import { describe, expect, it } from 'vitest';
import { renderRefusal } from '../../../src/core/render/refusal.js';

const PR_URL = 'https://github.com/octo/model/pull/20';

describe('renderRefusal', () => {
  it('tells a user without write access why', () => {
    expect(renderRefusal('permission', { user: 'mallory', permission: 'read' })).toBe(
      'Sorry, only people with write, maintain or admin permission on this repository can start autoloop; mallory has `read` permission. Ask a maintainer to comment `/optimize` instead.\n',
    );
  });

  it('quotes every config error as file:line: key: message', () => {
    const text = renderRefusal('config', {
      file: '.github/autoloop.yml',
      issues: [
        { file: '.github/autoloop.yml', path: 'metric.goal', line: 3, message: 'expected minimize or maximize, got "```lower"' },
        { file: '.github/autoloop.yml', path: '', line: null, message: 'unknown key <!-- x --> @everyone' },
      ],
    });
    expect(text).toBe(
      [
        'Sorry, autoloop cannot start: `.github/autoloop.yml` on the default branch is not valid.',
        '',
        '````text',
        '.github/autoloop.yml:3: metric.goal: expected minimize or maximize, got "```lower"',
        '.github/autoloop.yml: unknown key  x  @everyone',
        '````',
        '',
        "Fix it on the default branch, then comment `/optimize` again. See node_modules/@autoloop-dev/autoloop/schema/autoloop.schema.json or the README's config section.",
        '',
      ].join('\n'),
    );
  });

  it('names the active run and how to stop it', () => {
    expect(renderRefusal('busy', { issue: 12, pullRequest: 20, url: PR_URL })).toBe(
      `A run is already active here: [run pull request #20](${PR_URL}), started on #12. Wait for it to finish, or comment \`/optimize stop\` on #12 to stop it, then ask again.\n`,
    );
    expect(renderRefusal('busy', { issue: 12, pullRequest: null })).toBe(
      'A run is already active here, started on #12. Wait for it to finish, or comment `/optimize stop` on #12 to stop it, then ask again.\n',
    );
  });
});
