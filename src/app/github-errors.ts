import { GraphqlResponseError } from '@octokit/graphql';
import { RequestError } from '@octokit/request-error';
import { AutoloopError } from '../core/errors.js';

/** A GitHub API call failed; the message names the operation, the repository, the status and GitHub's words. */
export class GitHubError extends AutoloopError {
  constructor(
    readonly operation: string,
    readonly repository: string,
    /** The HTTP status, or null when GitHub answered but the answer was unusable (GraphQL errors, a truncated tree). */
    readonly status: number | null,
    /** What GitHub said, e.g. "Validation Failed: A pull request already exists for octo:branch." */
    readonly githubMessage: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation} (${repository}): ${status === null ? '' : `${status} `}${githubMessage}`, {
      subject: { repo: repository, operation },
      ...options,
    });
    this.name = 'GitHubError';
  }
}

/**
 * GitHub refused to open a pull request because one is already open for the same head and base (a 422
 * "A pull request already exists for owner:branch"): a retried or redelivered request finds its own.
 */
export class PullRequestExistsError extends GitHubError {
  constructor(operation: string, repository: string, githubMessage: string, options?: { cause?: unknown }) {
    super(operation, repository, 422, githubMessage, options);
    this.name = 'PullRequestExistsError';
  }
}

/**
 * The App does not know its own identity (`GET /app` failed): it cannot tell its bot, comments and check runs from
 * anyone else's, so it writes nothing and the event fails; the next event asks again.
 */
export class UnknownAppIdentityError extends GitHubError {
  constructor(repository: string, operation = 'appIdentity') {
    super(operation, repository, null, "the App's identity is unknown (GET /app failed): it acts on nothing until it knows which bot it is; the next event asks again");
    this.name = 'UnknownAppIdentityError';
  }
}

/** GitHub's own words from an error body: its `message` and each validation error, without the docs link. */
export function githubMessage(data: unknown, fallback: string): string {
  if (typeof data !== 'object' || data === null || !('message' in data) || typeof data.message !== 'string') return fallback;
  const details = 'errors' in data && Array.isArray(data.errors) ? data.errors.map(describeValidationError) : [];
  return details.length === 0 ? data.message : `${data.message}: ${details.join('; ')}`;
}

function describeValidationError(error: unknown): string {
  if (typeof error === 'string') return error;
  if (typeof error !== 'object' || error === null) return JSON.stringify(error);
  const fields = error as { message?: unknown; resource?: unknown; field?: unknown; code?: unknown };
  if (typeof fields.message === 'string') return fields.message;
  return [fields.resource, fields.field, fields.code].filter((part) => typeof part === 'string').join(' ') || JSON.stringify(error);
}

/**
 * Wraps an Octokit error (REST `RequestError`, GraphQL `GraphqlResponseError`) in a {@link GitHubError} that
 * names `operation` and `repository`; a 422 "A pull request already exists" becomes a
 * {@link PullRequestExistsError}. Anything else (a `GitHubError` already, a bug) comes back as it is.
 */
export function wrapGitHubError(operation: string, repository: string, error: unknown): unknown {
  if (error instanceof GitHubError) return error;
  if (error instanceof RequestError) {
    const message = githubMessage(error.response?.data, error.message);
    if (error.status === 422 && /a pull request already exists/i.test(message)) {
      return new PullRequestExistsError(operation, repository, message, { cause: error });
    }
    return new GitHubError(operation, repository, error.status, message, { cause: error });
  }
  if (error instanceof GraphqlResponseError) {
    // GraphQL reports errors in a 200 response: no status, only the errors' messages.
    const messages = (error.errors ?? []).flatMap((entry) => (typeof entry.message === 'string' ? [entry.message] : []));
    return new GitHubError(operation, repository, null, messages.join('; ') || error.message, { cause: error });
  }
  return error;
}

/** What to answer instead of throwing when a call fails in an expected way (a 404 read, an idempotent write). */
export interface Recovery<R> {
  when: (error: GitHubError) => boolean;
  value: R;
}

/** A read's 404: not there. */
export const notFound = (error: GitHubError): boolean => error.status === 404;
/** Not allowed (a permission the installation lacks) or not there (a feature the plan lacks): the doctor says "unknown". */
export const forbiddenOrMissing = (error: GitHubError): boolean => error.status === 403 || error.status === 404;

/**
 * Runs one API call, wrapping an Octokit error once, here at the edge, in a {@link GitHubError} that names the
 * operation and the repository; `recover` turns an expected failure into a value instead.
 */
export async function callGitHub<T, R = never>(operation: string, repository: string, request: () => Promise<T>, recover?: Recovery<R>): Promise<T | R> {
  try {
    return await request();
  } catch (error) {
    const wrapped = wrapGitHubError(operation, repository, error);
    if (recover !== undefined && wrapped instanceof GitHubError && recover.when(wrapped)) return recover.value;
    throw wrapped;
  }
}
