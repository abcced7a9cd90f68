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
  // Installation tokens in GitHub's stateless format are a JWT after `ghs_` (dots, and base64url's `-` and `_`);
  // GitHub's own advice is to match `ghs_[A-Za-z0-9._]{36,}` (docs: "About authentication to GitHub", token formats).
  { name: 'GitHub token (ghp_, gho_, ghu_, ghs_, ghr_)', pattern: 'gh[pousr]_[A-Za-z0-9._-]{36,}' },
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

/**
 * The variables of autoloop's environment every process it starts for a repository gets, when set:
 * the command search path and the locale, time zone and terminal settings. Nothing else passes unless
 * the config names it (`evaluate.env`, `proposer.command.env`).
 */
export const BASE_ENVIRONMENT: readonly string[] = ['PATH', 'LANG', 'LC_ALL', 'LC_CTYPE', 'TZ', 'TERM'];

/**
 * The environment by allowlist: only the {@link BASE_ENVIRONMENT} variables and those named in `allow`
 * (exact names) pass from `env`; every other variable stays out, whatever its name (`GH_PAT`,
 * `DATABASE_URL`, `SSH_AUTH_SOCK` as well as `GITHUB_TOKEN`). `withheld` lists the names left out,
 * sorted; `secretWithheld` those of them that look like secrets ({@link isSecretName}). `env` itself is
 * not changed; the caller adds what autoloop sets itself (`HOME`, `TMPDIR`, `AUTOLOOP_*`).
 */
export function allowlistEnvironment(
  env: NodeJS.ProcessEnv,
  allow: readonly string[],
): { env: Record<string, string>; withheld: string[]; secretWithheld: string[] } {
  const allowed = new Set([...BASE_ENVIRONMENT, ...allow]);
  const kept: Record<string, string> = {};
  const withheld: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (allowed.has(name)) kept[name] = value;
    else withheld.push(name);
  }
  withheld.sort();
  return { env: kept, withheld, secretWithheld: withheld.filter(isSecretName) };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Line lengths `base64` (76, MIME) and `openssl base64` (64, PEM) wrap their output at. */
const BASE64_WRAP_WIDTHS = [76, 64] as const;

/**
 * The base64 characters that depend on `bytes` alone when they start `shift` bytes into a longer
 * stream: the characters at either end that mix in neighbouring bytes are left out.
 */
function base64Core(bytes: Buffer, shift: 0 | 1 | 2): string {
  const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
  return encoded.slice([0, 2, 3][shift], Math.floor((8 * (shift + bytes.length)) / 6));
}

const urlSafe = (base64: string) => base64.replace(/\+/g, '-').replace(/\//g, '_');
const wrap = (text: string, width: number) => text.match(new RegExp(`.{1,${width}}`, 'gs'))!.join('\n');

/**
 * The base64 forms of a value that the redactor finds as they are, longest first: the whole encoding
 * with and without `=` padding, and the part fixed by the value at each of the three alignments of
 * a value inside a longer base64 stream (so `base64 <<< "$KEY"` or the key in the middle of an encoded
 * JSON document is found too), each standard (`+/`) and url-safe (`-_`); and the whole encoding and
 * the first alignment wrapped as `base64` and `openssl base64` wrap lines. Pure.
 */
export function base64Forms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const padded = bytes.toString('base64');
  const standard = [padded, padded.replace(/=+$/, ''), base64Core(bytes, 0), base64Core(bytes, 1), base64Core(bytes, 2)];
  const wrapped = BASE64_WRAP_WIDTHS.flatMap((width) => [padded, standard[2]!].filter((text) => text.length > width).map((text) => wrap(text, width)));
  const forms = new Set([...standard, ...standard.map(urlSafe), ...wrapped]);
  return [...forms].sort((a, b) => b.length - a.length);
}

/** A hex digit in a pattern that takes either case. */
const anyCaseHex = (byte: number) => byte.toString(16).padStart(2, '0').replace(/[a-f]/g, (digit) => `[${digit}${digit.toUpperCase()}]`);

/**
 * Source of a regular expression for `value` percent-encoded (RFC 3986, and `+` for a space as forms
 * encode it): each character as it is or as its UTF-8 bytes `%XX` in either case, so a value encoded
 * whole, by `encodeURIComponent`, or one character at a time is found. Pure.
 */
export function percentEncodedPattern(value: string): string {
  return [...value]
    .map((char) => {
      const encoded = [...Buffer.from(char, 'utf8')].map((byte) => `%${anyCaseHex(byte)}`).join('');
      return `(?:${encoded}|${escapeRegExp(char)}${char === ' ' ? '|\\+' : ''})`;
    })
    .join('');
}

/**
 * A function that redacts secrets from text: the values (of {@link MIN_REDACTED_LENGTH} characters
 * or more) of the secret-named variables in `env` — withheld or allowed alike, since an allowed one
 * may still be printed — become `[REDACTED:NAME]`, and so do their encoded forms: base64
 * ({@link base64Forms}), hex in either case, and percent-encoded ({@link percentEncodedPattern}).
 * The {@link TOKEN_PATTERNS} become `[REDACTED]`.
 *
 * Four passes, each one regular expression however many values there are: the values and their base64
 * forms (literal alternatives, which the regex engine matches as a set); hex (case-insensitive); only in
 * text with a `%` (or a `+`, for a value with a space), the percent-encoded forms; and last the token
 * patterns, so that a value is named even where a token shape covers part of it (an `sk-ant-` key with
 * its last characters percent-encoded). A secret split up, reversed or encoded otherwise (twice, or in a
 * way not named here) is not found: the leak check is a net, not a proof.
 */
export function createRedactor(env: NodeJS.ProcessEnv): (text: string) => string {
  const values = new Map<string, string>();
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (value === undefined || !isSecretName(name)) continue;
    // A value read from a file often ends with a newline the program will not print.
    for (const candidate of [value, value.trim()]) {
      if (candidate.length >= MIN_REDACTED_LENGTH && !values.has(candidate)) values.set(candidate, name);
    }
  }
  // The values themselves first, so a base64 form that happens to equal another value keeps that value's name.
  const names = new Map(values);
  const hexNames = new Map<string, string>();
  for (const [value, name] of values) {
    for (const form of base64Forms(value)) if (!names.has(form)) names.set(form, name);
    const hex = Buffer.from(value, 'utf8').toString('hex');
    if (!hexNames.has(hex)) hexNames.set(hex, name);
  }
  /** Longest first, so a value that contains another is replaced whole. */
  const alternatives = (texts: Iterable<string>) => [...texts].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const literals = names.size > 0 ? new RegExp(alternatives(names.keys()).join('|'), 'g') : null;
  const tokens = new RegExp(TOKEN_PATTERNS.map((p) => p.pattern).join('|'), 'g');
  const hexes = hexNames.size > 0 ? new RegExp(alternatives(hexNames.keys()).join('|'), 'gi') : null;
  const percent = [...values].sort(([a], [b]) => b.length - a.length).map(([value, name]) => ({ name, source: percentEncodedPattern(value), space: value.includes(' ') }));
  const percents = percent.length > 0 ? new RegExp(percent.map((p) => p.source).join('|'), 'g') : null;
  const exactly = new Map<string, RegExp>();
  const percentName = (match: string): string => {
    for (const { name, source } of percent) {
      let anchored = exactly.get(source);
      if (!anchored) exactly.set(source, (anchored = new RegExp(`^(?:${source})$`)));
      if (anchored.test(match)) return name;
    }
    return '';
  };
  const spaced = percent.some((p) => p.space);
  return (text) => {
    let out = literals ? text.replace(literals, (match) => `[REDACTED:${names.get(match)}]`) : text;
    if (hexes) out = out.replace(hexes, (match) => `[REDACTED:${hexNames.get(match.toLowerCase())}]`);
    if (percents && (out.includes('%') || (spaced && out.includes('+')))) out = out.replace(percents, (match) => `[REDACTED:${percentName(match)}]`);
    return out.replace(tokens, REDACTED);
  };
}

/**
 * The variable names in the `[REDACTED:NAME]` markers of a text, in order, repeats included: what the
 * redactor found in it (or what was redacted before).
 */
export function redactedNames(text: string): string[] {
  return [...text.matchAll(/\[REDACTED:([A-Za-z_][A-Za-z0-9_]*)\]/g)].map((match) => match[1]!);
}

/**
 * The names of the secrets `after` holds, in any form the redactor finds, that `before` (the same file
 * before the change; null for a new file) did not: what a change would leak into a commit. Pure.
 */
export function leakedSecretNames(before: string | null, after: string, redact: (text: string) => string): string[] {
  const had = new Set(before === null ? [] : redactedNames(redact(before)));
  // Markers already in the text are not news either.
  for (const name of redactedNames(after)) had.add(name);
  return [...new Set(redactedNames(redact(after)))].filter((name) => !had.has(name));
}
