import type { Config } from '../core/config-schema.js';
import type { Proposer } from './proposer.js';
import { createTuneProposer } from './tune.js';

/** The proposer the config asks for. */
export function createProposer(config: Config): Proposer {
  switch (config.proposer.kind) {
    case 'tune':
      return createTuneProposer(config);
    default:
      // The schema refuses other kinds until they exist; this keeps the switch exhaustive at runtime.
      throw new Error(`proposer kind "${config.proposer.kind}" is not available in this version`);
  }
}
