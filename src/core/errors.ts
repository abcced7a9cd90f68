/** Exit codes of the `autoloop` command, documented in the README. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  config: 3,
  failed: 4,
  /** The ledger's hash chain is broken: it was altered after it was written. */
  tampered: 5,
  interrupted: 130,
} as const;

/** One of the {@link EXIT} codes. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What an error is about, so that its message, an annotation or a caller can name it. Only the fields that apply are set. */
export interface ErrorSubject {
  /** A file: the config, the ledger, the tuned file. */
  file?: string;
  /** The line in `file` (1-based), or null when the problem is not on one line. */
  line?: number | null;
  /** A key inside `file`, e.g. `proposer.tune`. */
  key?: string;
  /** A GitHub repository, `owner/repo`. */
  repo?: string;
  /** What was being done: a gateway operation (`createPullRequest`), a git command. */
  operation?: string;
  /** The directory a command ran in. */
  dir?: string;
  /** An input of the action. */
  input?: string;
  /** An artifact's name. */
  artifact?: string;
}

/**
 * The base of every error autoloop throws on purpose: the message says what went wrong and what to do,
 * `subject` names what it is about, and `exitCode` is what the CLI exits with (subclasses override it;
 * {@link EXIT}.error by default). Anything else that reaches the CLI is an unexpected error.
 */
export class AutoloopError extends Error {
  readonly exitCode: ExitCode = EXIT.error;
  readonly subject: ErrorSubject;

  constructor(message: string, options: { subject?: ErrorSubject; cause?: unknown } = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.subject = options.subject ?? {};
  }
}
