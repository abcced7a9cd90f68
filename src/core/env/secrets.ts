/**
 * Secrets stay out: the processes autoloop starts for a repository (evaluator, proposer) get an
 * environment without tokens and keys, and whatever they print is redacted before it is written to
 * a trace or shown.
 *
 * A variable is secret by its name (case-insensitive):
 * - every `ACTIONS_*` variable (the runner's runtime, cache, results and OIDC tokens and URLs);
 * - a name whose last `_`-separated word, or the whole name, is one of {@link SECRET_NAME_WORDS}:
 *   `GITHUB_TOKEN`, `NPM_TOKEN`, `OPENAI_API_KEY`, `AWS_SECRET_ACCESS_KEY`, `DB_PASSWORD`, `my_secret`.
 *
 * The rule is suffix-based on purpose: `TOKENIZER_PARALLELISM`, `KEYBOARD`, `PASSWORD_MIN_LENGTH`
 * or `SSH_AUTH_SOCK` are settings, not secrets, and stay. A secret under another name (a URL with a
 * password in it) is not recognised: keep it out of the environment autoloop runs in.
 */

/** The last words of a variable name that make it secret, e.g. `_TOKEN` in `NPM_TOKEN`. */
export const SECRET_NAME_WORDS: readonly string[] = [
  'TOKEN',
  'TOKENS',
  'AUTHTOKEN',
  'AUTH',
  'KEY',
  'KEYS',
  'APIKEY',
  'SECRET',
  'SECRETS',
  'PASSWORD',
  'PASSWORDS',
  'PASSWD',
  'PASSPHRASE',
  'CREDENTIAL',
  'CREDENTIALS',
];

const SECRET_NAME = new RegExp(`^ACTIONS_|(?:^|_)(?:${SECRET_NAME_WORDS.join('|')})$`, 'i');

/** Shorter values are not redacted: a secret-named variable set to `1` or `true` is not worth garbling output for. */
export const MIN_REDACTED_LENGTH = 6;

/** What redacted text is replaced with; values of named variables become `[REDACTED:NAME]`. */
export const REDACTED = '[REDACTED]';

/** A shape of credential that is redacted wherever it appears, whether or not it is in the environment. */
export interface TokenPattern {
  name: string;
  /** Source of a regular expression, without flags (combined into one global regex). */
  pattern: string;
}

/** Credential shapes redacted from all captured output. */
export const TOKEN_PATTERNS: readonly TokenPattern[] = [
  { name: 'GitHub token (ghp_, gho_, ghu_, ghs_, ghr_)', pattern: 'gh[pousr]_[A-Za-z0-9]{36,}' },
  { name: 'GitHub fine-grained token (github_pat_)', pattern: 'github_pat_[A-Za-z0-9]{22,}_[A-Za-z0-9]{59,}' },
  // The look-behind keeps words like `task-…` or `disk-…` from being read as keys.
  { name: 'Anthropic key (sk-ant-)', pattern: '(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20,}' },
  { name: 'OpenAI-style key (sk-)', pattern: '(?<![A-Za-z0-9_-])sk-[A-Za-z0-9][A-Za-z0-9_-]{19,}' },
  { name: 'AWS access key id (AKIA, ASIA)', pattern: '(?<![A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])' },
  { name: 'Slack token (xoxb-, xoxa-, xoxp-, xoxr-, xoxs-)', pattern: 'xox[baprs]-[A-Za-z0-9-]{10,}' },
  // A block cut off by the output limit is redacted to the end rather than half shown.
  {
    name: 'PEM private key block',
    pattern: '-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----[\\s\\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|$)',
  },
];

/** True when a variable of this name is withheld from the processes autoloop starts (see the module comment). */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * The environment for a process autoloop starts: `env` without its secret-named variables, except
 * those named in `allow` (exact names, from `evaluate.env`). `withheld` lists the names left out,
 * sorted. `env` itself is not changed.
 */
export function scrubEnvironment(env: NodeJS.ProcessEnv, allow: readonly string[]): { env: NodeJS.ProcessEnv; withheld: string[] } {
  const allowed = new Set(allow);
  const kept: NodeJS.ProcessEnv = {};
  const withheld: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (isSecretName(name) && !allowed.has(name)) withheld.push(name);
    else kept[name] = value;
  }
  return { env: kept, withheld: withheld.sort() };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A function that redacts secrets from text: the values (of {@link MIN_REDACTED_LENGTH} characters
 * or more) of the secret-named variables in `env` — withheld or allowed alike, since an allowed one
 * may still be printed — become `[REDACTED:NAME]`, and the {@link TOKEN_PATTERNS} become `[REDACTED]`.
 * One combined regular expression, so the cost is one pass over the text however many values there are.
 */
export function createRedactor(env: NodeJS.ProcessEnv): (text: string) => string {
  const names = new Map<string, string>();
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (value === undefined || !isSecretName(name)) continue;
    // A value read from a file often ends with a newline the program will not print.
    for (const candidate of [value, value.trim()]) {
      if (candidate.length >= MIN_REDACTED_LENGTH && !names.has(candidate)) names.set(candidate, name);
    }
  }
  // Longest first, so a value that contains another is replaced whole.
  const values = [...names.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const combined = new RegExp([...values, ...TOKEN_PATTERNS.map((p) => p.pattern)].join('|'), 'g');
  return (text) => text.replace(combined, (match) => {
    const name = names.get(match);
    return name ? `[REDACTED:${name}]` : REDACTED;
  });
}
