/**
 * The polite replies of the App when it will not start a run: no permission, an invalid config, or a run
 * already active. Pure: what was refused in, Markdown out.
 */
import { CONFIG_HINT, formatConfigIssue, type ConfigIssue } from '../config/config.js';
import { code, fenced, link, oneLine } from './markdown.js';

/** What each refusal names. */
export interface RefusalDetails {
  /** The commenter lacks write access. */
  permission: { user: string; permission: string };
  /** The config on the default branch is missing or invalid; `issues` as {@link ConfigError} lists them. */
  config: { file: string; issues: ConfigIssue[] };
  /** A run is already active. */
  busy: { issue: number; pullRequest: number | null; url?: string };
  /** The previous run finished and its pull request is still open for review. */
  'awaiting-review': { issue: number; pullRequest: number | null; url?: string };
}

/** The kinds of {@link renderRefusal}. */
export type RefusalKind = keyof RefusalDetails;

/**
 * A polite reply when the App will not start a run: no permission (naming the user's permission), an
 * invalid config (quoting each validation error as `file:line: key: message`), or a run already active
 * (naming it and how to stop it).
 */
export function renderRefusal<K extends RefusalKind>(kind: K, details: RefusalDetails[K]): string {
  switch (kind) {
    case 'permission': {
      const d = details as RefusalDetails['permission'];
      return (
        `Sorry, only people with write, maintain or admin permission on this repository can start autoloop; ` +
        `${oneLine(d.user, 100)} has ${code(d.permission)} permission. Ask a maintainer to comment \`/optimize\` instead.\n`
      );
    }
    case 'config': {
      const d = details as RefusalDetails['config'];
      const issues = d.issues.length ? d.issues.map(formatConfigIssue).join('\n') : `${d.file}: invalid`;
      return [
        `Sorry, autoloop cannot start: ${code(d.file)} on the default branch is not valid.`,
        '',
        fenced(issues, 'text'),
        '',
        `Fix it on the default branch, then comment \`/optimize\` again. ${CONFIG_HINT}`,
        '',
      ].join('\n');
    }
    case 'busy': {
      const d = details as RefusalDetails['busy'];
      const label = `run pull request #${d.pullRequest}`;
      const named = d.pullRequest ? `: ${d.url ? link(label, d.url) : label},` : ',';
      return (
        `A run is already active here${named} started on #${d.issue}. ` +
        `Wait for it to finish, or comment \`/optimize stop\` on #${d.issue} to stop it, then ask again.\n`
      );
    }
    case 'awaiting-review': {
      const d = details as RefusalDetails['awaiting-review'];
      const label = `run pull request #${d.pullRequest}`;
      return (
        `The previous run on #${d.issue} has finished, and its ${d.url ? link(label, d.url) : label} is open for review. ` +
        'Merge it or close it, then comment `/optimize` again to start a new run.\n'
      );
    }
  }
  throw new Error(`unknown refusal ${String(kind)}`);
}
