import type { Probot } from 'probot';

/** A Probot app that does nothing: the baseline bench/webhook-load.ts measures the autoloop App against. */
export default function bareApp(_app: Probot): void {}
