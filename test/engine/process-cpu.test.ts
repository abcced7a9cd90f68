import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand, type RunCommandOptions } from '../../src/engine/process.js';

// CPU time measured against a margin: the `timing` project of vitest.config.ts runs this file alone.
const dir = mkdtempSync(join(tmpdir(), 'autoloop-process-cpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function timedRun(options: Partial<RunCommandOptions> & { command: string }) {
  return { result: await runCommand({ cwd: dir, env: process.env, timeoutMs: 10_000, ...options }) };
}

describe('runCommand with measureCpu', () => {
  const busy = (ms: number) => `node -e 'const end = Date.now() + ${ms}; while (Date.now() < end);'`;

  it('measures the CPU time of the command\'s children, foreground and waited-for background alike', async () => {
    const { result } = await timedRun({ command: `${busy(300)}; (${busy(300)}) & wait`, measureCpu: true });
    expect(result.outcome.exitCode).toBe(0);
    expect(result.outcome.cpuMs).toBeGreaterThanOrEqual(500);
    expect(result.outcome.cpuMs).toBeLessThanOrEqual(result.outcome.durationMs + 50);
  });

  it('measures a sleeping command as next to no CPU time, and leaves no cpuMs without measureCpu', async () => {
    const { result } = await timedRun({ command: 'sleep 0.3', measureCpu: true });
    expect(result.outcome.cpuMs).toBeLessThan(100);
    expect(result.outcome.durationMs).toBeGreaterThanOrEqual(290);
    const { result: plain } = await timedRun({ command: 'sleep 0.01' });
    expect(plain.outcome).not.toHaveProperty('cpuMs');
  });

  it('gives the command no fd 3 (nor the stderr kept aside), so it cannot forge the report', async () => {
    const forged = "printf '0m0.000000s 0m0.000000s\\n0m0.000000s 0m0.000000s\\n'";
    const { result } = await timedRun({ command: `${forged} >&3; ${forged} >&4; ls /proc/self/fd; ${busy(200)}`, measureCpu: true });
    // ls's own directory handle is its fd 3; fd 4, the stderr the timing shell keeps aside, is not passed on.
    expect(result.stdout.trim().split('\n')).not.toContain('4');
    expect(result.stderr).toMatch(/3: Bad file descriptor[\s\S]*4: Bad file descriptor/);
    expect(result.outcome.cpuMs).toBeGreaterThanOrEqual(150);
  });
});
