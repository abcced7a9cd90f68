import { readFileSync } from 'node:fs';
import { arch, cpus, platform, release, totalmem } from 'node:os';
import type { Environment } from '../core/result/result.js';

/** Set by scripts/build-action.ts in the action's bundle (dist/index.js), which has no package.json at `../../`. */
declare const AUTOLOOP_BUNDLED_VERSION: string | undefined;

/** autoloop's own version, from its package.json. */
export function packageVersion(): string {
  if (typeof AUTOLOOP_BUNDLED_VERSION === 'string') return AUTOLOOP_BUNDLED_VERSION;
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

/** The machine a measurement was made on: recorded with every result so that machines are never mixed. */
export function environmentFingerprint(): Environment {
  const processors = cpus();
  return {
    os: platform(),
    release: release(),
    arch: arch(),
    cpuModel: processors[0]?.model.trim() ?? 'unknown',
    cpuCount: processors.length,
    memoryBytes: totalmem(),
    node: process.version,
    autoloop: packageVersion(),
  };
}
