import { describe, expect, it } from 'vitest';
import { createRedactor, isSecretName, scrubEnvironment, TOKEN_PATTERNS } from '../../../src/core/env/secrets.js';

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** `n` base62 characters, deterministic. */
function base62(n: number, offset = 0): string {
  return Array.from({ length: n }, (_, i) => ALNUM[(i * 7 + offset) % ALNUM.length]).join('');
}

describe('isSecretName', () => {
  it.each([
    'GITHUB_TOKEN',
    'GH_TOKEN',
    'ACTIONS_RUNTIME_TOKEN',
    'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
    'ACTIONS_ID_TOKEN_REQUEST_URL',
    'ACTIONS_CACHE_URL',
    'ACTIONS_RESULTS_URL',
    'actions_runtime_url',
    'NPM_TOKEN',
    'NODE_AUTH_TOKEN',
    'OPENAI_API_KEY',
    'ANTHROPIC_API_KEY',
    'AWS_ACCESS_KEY',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'SSH_PRIVATE_KEY',
    'DB_PASSWORD',
    'MYSQL_PASSWD',
    'GPG_PASSPHRASE',
    'GOOGLE_APPLICATION_CREDENTIALS',
    'NPM_CONFIG__AUTH',
    'npm_config_//registry.npmjs.org/:_authToken',
    'my_secret',
    'Slack_Bot_Token',
    'TOKEN',
    'SECRET',
  ])('withholds %s', (name) => {
    expect(isSecretName(name)).toBe(true);
  });

  it.each([
    'PATH',
    'HOME',
    'PWD',
    'TOKENIZER_PARALLELISM',
    'KEYBOARD',
    'MONKEY',
    'PASSWORD_MIN_LENGTH',
    'SECRET_SCANNING_ENABLED',
    'SSH_AUTH_SOCK',
    'GITHUB_ACTIONS',
    'GITHUB_REPOSITORY',
    'RUNNER_TEMP',
    'AUTOLOOP_METRICS_FILE',
  ])('keeps %s', (name) => {
    expect(isSecretName(name)).toBe(false);
  });
});

describe('scrubEnvironment', () => {
  const input = Object.freeze({ PATH: '/usr/bin', HOME: '/home/u', GITHUB_TOKEN: 'ghs_x', NPM_TOKEN: 'npm_x', OPENAI_API_KEY: 'sk-x', ACTIONS_CACHE_URL: 'https://c' });

  it('withholds secret-named variables, lists them sorted, and leaves its input alone', () => {
    const { env, withheld } = scrubEnvironment(input, []);
    expect(env).toEqual({ PATH: '/usr/bin', HOME: '/home/u' });
    expect(withheld).toEqual(['ACTIONS_CACHE_URL', 'GITHUB_TOKEN', 'NPM_TOKEN', 'OPENAI_API_KEY']);
    expect(input).toHaveProperty('GITHUB_TOKEN', 'ghs_x');
  });

  it('passes the variables the allow list names exactly, and only those', () => {
    const { env, withheld } = scrubEnvironment(input, ['NPM_TOKEN', 'openai_api_key', 'NOT_SET_TOKEN']);
    expect(env).toEqual({ PATH: '/usr/bin', HOME: '/home/u', NPM_TOKEN: 'npm_x' });
    expect(withheld).toEqual(['ACTIONS_CACHE_URL', 'GITHUB_TOKEN', 'OPENAI_API_KEY']);
  });
});

describe('createRedactor', () => {
  const none = createRedactor({});

  it.each([
    ['ghp_', `ghp_${base62(36)}`],
    ['gho_', `gho_${base62(40, 1)}`],
    ['ghu_', `ghu_${base62(36, 2)}`],
    ['ghs_', `ghs_${base62(36, 3)}`],
    // The stateless installation-token format: ghs_, then a JWT (three base64url parts, ~520 characters).
    ['ghs_ (stateless JWT)', `ghs_${base62(36, 6)}.${base62(300, 7)}-_x.${base62(170, 8)}_-`],
    ['ghs_<id>_<jwt>', `ghs_1234567_eyJ${base62(40, 9)}.eyJ${base62(200, 10)}.${base62(86, 11)}`],
    ['ghr_', `ghr_${base62(76, 4)}`],
    ['github_pat_', `github_pat_${base62(22)}_${base62(59, 5)}`],
    ['sk- (OpenAI)', `sk-${base62(48)}`],
    ['sk-proj- (OpenAI)', `sk-proj-${base62(40)}_${base62(20, 3)}`],
    ['sk-ant- (Anthropic)', `sk-ant-api03-${base62(80)}-${base62(10)}AA`],
    ['AKIA (AWS)', 'AKIAIOSFODNN7EXAMPLE'],
    ['xoxb- (Slack)', `xoxb-123456789012-1234567890123-${base62(24)}`],
    ['xoxp- (Slack)', `xoxp-${base62(30)}`],
  ])('redacts a %s token wherever it appears', (_, token) => {
    const out = none(`token=${token}\n"${token}" and (${token}).`);
    expect(out).toBe('token=[REDACTED]\n"[REDACTED]" and ([REDACTED]).');
  });

  it('redacts a private key block, and one cut off by the output limit to the end', () => {
    const block = `-----BEGIN OPENSSH PRIVATE KEY-----\n${base62(70)}\n${base62(30, 9)}==\n-----END OPENSSH PRIVATE KEY-----`;
    expect(none(`before\n${block}\nafter`)).toBe('before\n[REDACTED]\nafter');
    expect(none(`before\n-----BEGIN RSA PRIVATE KEY-----\n${base62(64)}\n[... 9 bytes dropped ...]`)).toBe('before\n[REDACTED]');
    expect(none('-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----')).toBe('-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----');
  });

  it('leaves look-alikes alone', () => {
    const text = [
      `ghp_${base62(35)}`, // too short
      'task-management-configuration-handler', // "sk-" inside a word
      'sk-short',
      'AKIA1234', // too short
      'xoxb-short',
      'github_pat_tooShort_x',
      'METRIC loss=0.5',
    ].join('\n');
    expect(none(text)).toBe(text);
  });

  it('redacts the values of secret-named variables, longest first, and not short or non-secret values', () => {
    const redact = createRedactor({
      API_TOKEN: 'abc.def+ghi(1)',
      LONG_TOKEN: 'abc.def+ghi(1)-and-more',
      MY_PASSWORD: 'hunter2hunter2\n',
      FLAG_SECRET: 'true',
      DEBUG_KEY: '1',
      HOME: '/home/someone',
    });
    const out = redact('a abc.def+ghi(1)-and-more b abc.def+ghi(1) c hunter2hunter2 d true 1 /home/someone abcXdef+ghi(1)');
    expect(out).toBe('a [REDACTED:LONG_TOKEN] b [REDACTED:API_TOKEN] c [REDACTED:MY_PASSWORD] d true 1 /home/someone abcXdef+ghi(1)');
  });

  it('names the variable when a token shape is also the value of one', () => {
    const token = `ghs_${base62(36)}`;
    expect(createRedactor({ GITHUB_TOKEN: token })(`x ${token} y`)).toBe('x [REDACTED:GITHUB_TOKEN] y');
  });

  it('handles 256 KiB of output with many secrets in the environment in one pass', () => {
    const env: NodeJS.ProcessEnv = {};
    for (let i = 0; i < 200; i++) env[`SERVICE_${i}_TOKEN`] = `value-${i}-${base62(20, i)}`;
    const redact = createRedactor(env);
    const line = `step 123 loss=0.5 ${env.SERVICE_7_TOKEN} ghp_${base62(36)} sk-not-a-key ${'x'.repeat(60)}\n`;
    const text = line.repeat(Math.ceil((256 * 1024) / line.length));
    const out = redact(text);
    expect(out).not.toContain(env.SERVICE_7_TOKEN);
    expect(out).not.toContain('ghp_');
    expect(out.split('[REDACTED:SERVICE_7_TOKEN]')).toHaveLength(text.split('\n').length);
  });

  it('documents every token pattern by name', () => {
    expect(TOKEN_PATTERNS.length).toBeGreaterThanOrEqual(7);
    for (const p of TOKEN_PATTERNS) expect(() => new RegExp(p.pattern)).not.toThrow();
    expect(new Set(TOKEN_PATTERNS.map((p) => p.name)).size).toBe(TOKEN_PATTERNS.length);
  });
});
