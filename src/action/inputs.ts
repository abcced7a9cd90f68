/**
 * The action's inputs, read and checked in one place (names and defaults as in action.yml; the inputs the App
 * dispatches are `DISPATCH_INPUTS` of the protocol, which test/action/workflows.test.ts holds to these names).
 */
import { CONFIG_PATH, RESULT_FILE, RUN_NAME_PATTERN } from '../core/protocol/names.js';
import { AutoloopError } from '../core/errors.js';

export const ACTION_MODES = ['evaluate', 'propose', 'loop'] as const;
export type ActionMode = (typeof ACTION_MODES)[number];
export const FAIL_ON = ['regressed', 'invalid', 'never'] as const;
export type FailOn = (typeof FAIL_ON)[number];

export interface ActionInputs {
  mode: ActionMode;
  config: string;
  failOn: FailOn;
  resultFile: string;
  upload: boolean;
  run?: string;
  experiment?: number;
  parentSha?: string;
  ledgerFile?: string;
  goal?: string;
  tag?: string;
  experiments?: number;
  token?: string;
}

/** An input that is missing or malformed; names the input and says what it takes. */
export class InputError extends AutoloopError {
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(`input ${input}: ${message}`, { subject: { input } });
    this.name = 'InputError';
  }
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new InputError(name, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
}

function positiveInt(name: string, value: string): number | undefined {
  if (value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InputError(name, `expected a whole number of at least 1, got ${JSON.stringify(value)}`);
  return n;
}

function optional(value: string): string | undefined {
  return value === '' ? undefined : value;
}

/**
 * Reads the inputs through `get` (the runner's `core.getInput`, trimmed, '' when unset) and checks
 * what each mode needs, so that a mistake in a workflow fails at once with the input's name.
 */
export function readInputs(get: (name: string) => string): ActionInputs {
  const mode = oneOf('mode', get('mode'), ACTION_MODES);
  const upload = get('upload') || 'true';
  if (upload !== 'true' && upload !== 'false') throw new InputError('upload', `expected true or false, got ${JSON.stringify(upload)}`);
  const inputs: ActionInputs = {
    mode,
    config: get('config') || CONFIG_PATH,
    failOn: oneOf('fail-on', get('fail-on') || 'invalid', FAIL_ON),
    resultFile: get('result-file') || RESULT_FILE,
    upload: upload === 'true',
    run: optional(get('run')),
    experiment: positiveInt('experiment', get('experiment')),
    parentSha: optional(get('parent-sha')),
    ledgerFile: optional(get('ledger-file')),
    goal: optional(get('goal')),
    tag: optional(get('tag')),
    experiments: positiveInt('experiments', get('experiments')),
    token: optional(get('token')),
  };
  if (mode === 'propose') {
    if (!inputs.run) throw new InputError('run', 'required with mode: propose (the run name, usually the issue number)');
    if (!RUN_NAME_PATTERN.test(inputs.run)) throw new InputError('run', `expected letters, digits, . _ - , got ${JSON.stringify(inputs.run)}`);
    if (!inputs.experiment) throw new InputError('experiment', 'required with mode: propose (1, 2, …)');
    if (!inputs.parentSha || !/^[0-9a-f]{40}$/.test(inputs.parentSha)) {
      throw new InputError('parent-sha', `required with mode: propose: the full SHA of the run branch head, got ${JSON.stringify(inputs.parentSha ?? '')}`);
    }
  }
  if (inputs.tag !== undefined && !RUN_NAME_PATTERN.test(inputs.tag)) throw new InputError('tag', `expected letters, digits, . _ - , got ${JSON.stringify(inputs.tag)}`);
  return inputs;
}
