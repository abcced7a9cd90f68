import type { Config } from '../core/config/config-schema.js';
import { createCommandProposer } from './command.js';
import { createLlmProposer } from './llm.js';
import type { Proposer } from '../core/propose/proposer.js';
import { createTuneProposer } from './tune.js';

/** The proposer the config asks for. */
export function createProposer(config: Config): Proposer {
  switch (config.proposer.kind) {
    case 'tune':
      return createTuneProposer(config);
    case 'command': return createCommandProposer(config);
    case 'llm': return createLlmProposer(config);
    default:
      // The schema refuses other kinds until they exist; this keeps the switch exhaustive at runtime.
      throw new Error(`proposer kind "${config.proposer.kind}" is not available in this version`);
  }
}
