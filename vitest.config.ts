import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

/** Pure tests: plain values in, plain values out; no processes, git or network. */
const UNIT = ['test/core/**/*.test.ts', 'test/cli/help.test.ts', 'test/cli/progress.test.ts'];

/**
 * Tests that measure the wall or CPU time of real commands, or a ratio of timings, against a margin: they run after all others, one
 * file at a time, so that the other tests' processes do not take the CPU they measure.
 */
const TIMING = ['test/redteam/timing.test.ts', 'test/engine/process-cpu.test.ts', 'test/core/render/inert.test.ts', 'test/core/env/encoded-secrets.test.ts'];

/** The GitHub App and Action against a fake GitHub (module mocks, nock, servers): each file in a fresh process. */
const APP = ['test/app/**/*.test.ts', 'test/action/**/*.test.ts', 'test/redteam/app-*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    // vitest's default is one worker fewer than cores: a single one on 2 cores. An integration test spends part
    // of its time waiting for the processes it starts (evaluators, git, sandboxes, sleeps), so one more file
    // than cores runs at once.
    maxWorkers: availableParallelism() + 1,
    // The projects of a group share the workers. vitest queues them by name, each one's files longest first
    // (by their last durations): the slow integration files start at once, the quick unit files fill the end.
    // `isolate: false` lets a worker go on to the next file of its project without a fresh process and a
    // fresh import of everything: such files must leave no module mock, fake timer or changed global behind.
    projects: [
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...UNIT, ...TIMING, ...APP],
          isolate: false,
        },
      },
      { extends: true, test: { name: 'integration-app', include: APP } },
      { extends: true, test: { name: 'unit', include: UNIT, exclude: [...configDefaults.exclude, ...TIMING], isolate: false } },
      { extends: true, test: { name: 'timing', include: TIMING, maxWorkers: 1, sequence: { groupOrder: 1 } } },
    ],
  },
});
