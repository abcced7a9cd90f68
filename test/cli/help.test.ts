import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../fixtures/drivers/cli.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Each command's own options, as its --help must list them. */
const OPTIONS: Record<string, string[]> = {
  run: ['--config PATH', '--tag TAG', '--base REF', '--experiments N', '--goal TEXT', '--resume', '--accept-suspicious', '--json'],
  eval: ['--base REF', '--config PATH', '--repeats N', '--aa', '--json'],
  validate: ['--config PATH', '--json'],
  report: ['--tag TAG', '--chart FILE', '--verify', '--json'],
  verify: ['--tag TAG', '--json'],
  demo: ['--dir DIR', '--experiments N', '--json'],
  clean: ['--runs', '--dry-run', '--json'],
};

describe('autoloop COMMAND --help', () => {
  it.each(Object.entries(OPTIONS))('%s --help prints that command\'s usage and options, not the global help', async (command, options) => {
    for (const args of [[command, '--help'], [command, '-h'], ['help', command]]) {
      const result = await runCli(args, ROOT);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^Usage: autoloop ${command}\\b`));
      for (const option of options) expect(result.stdout, `${args.join(' ')}: ${option}`).toContain(option);
      expect(result.stdout).not.toContain('Commands:');
    }
  });

  it('the global help lists every command, clean too, and how to get a command\'s options', async () => {
    const result = await runCli(['--help'], ROOT);
    for (const command of Object.keys(OPTIONS)) expect(result.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
    expect(result.stdout).toContain('autoloop COMMAND --help');
    expect((await runCli(['help', 'frobnicate'], ROOT)).code).toBe(2);
  });
});
