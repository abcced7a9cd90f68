/** The redactor finds a secret's encoded forms too: base64 (every alignment), hex, percent-encoding. */
import { describe, expect, it } from 'vitest';
import { base64Forms, createRedactor, leakedSecretNames, MIN_REDACTED_LENGTH, percentEncodedPattern, redactedNames } from '../../../src/core/env/secrets.js';

const KEY = 'sk-ant-api03-Zq9_x+Y/z7Kw-Pm4';
const redact = createRedactor({ ANTHROPIC_API_KEY: KEY, HOME: '/home/someone' });
const b64 = (bytes: Buffer | string) => Buffer.from(bytes).toString('base64');
const url = (base64: string) => base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

describe('base64Forms', () => {
  it('holds the whole encoding with and without padding, standard and url-safe, longest first', () => {
    const forms = base64Forms('abcdefg');
    expect(forms).toContain('YWJjZGVmZw==');
    expect(forms).toContain('YWJjZGVmZw');
    expect(forms).toEqual([...forms].sort((a, b) => b.length - a.length));
    expect(base64Forms('~~~~~~~?')).toEqual(expect.arrayContaining(['fn5+fn5+fj8=', 'fn5-fn5-fj8=']));
  });

  it('holds, for each of the three alignments, only characters the value alone determines', () => {
    const value = Buffer.from('secret-value-42');
    for (const before of [0, 1, 2, 3, 4, 5]) {
      for (const after of [0, 1, 2]) {
        // Any neighbours: the part the value fixes is the same.
        for (const fill of [0x00, 0xff, 0x41]) {
          const stream = b64(Buffer.concat([Buffer.alloc(before, fill), value, Buffer.alloc(after, fill)]));
          expect(base64Forms('secret-value-42').some((form) => stream.includes(form)), `${before}+${after} fill ${fill}`).toBe(true);
        }
      }
    }
  });
});

describe('createRedactor, encoded forms', () => {
  it.each([
    ['base64', b64(KEY)],
    ['base64 without padding', b64(KEY).replace(/=+$/, '')],
    ['url-safe base64', url(b64(KEY))],
    ['base64 of the key and a newline (echo $KEY | base64)', b64(`${KEY}\n`)],
    ['base64 of a JSON document holding it, offset 0 mod 3', b64(`{"k":"${KEY}"}`)],
    ['offset 1 mod 3', b64(`{"ke":"${KEY}"}`)],
    ['offset 2 mod 3', b64(`{"key":"${KEY}"}`)],
    ['url-safe, offset 1 mod 3', url(b64(`{"ke":"${KEY}"}`))],
    ['hex', Buffer.from(KEY).toString('hex')],
    ['HEX', Buffer.from(KEY).toString('hex').toUpperCase()],
    ['hex in mixed case', Buffer.from(KEY).toString('hex').replace(/[a-f]/g, (d, i: number) => (i % 2 ? d.toUpperCase() : d))],
    ['encodeURIComponent', encodeURIComponent(KEY)],
    ['every byte percent-encoded', [...Buffer.from(KEY)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')],
    ['one character percent-encoded', KEY.replace('a', '%61')],
  ])('redacts the key as %s, naming it', (_, encoded) => {
    const out = redact(`before ${encoded} after`);
    expect(out).toContain('[REDACTED:ANTHROPIC_API_KEY]');
    expect(out).not.toContain(encoded);
    expect(redactedNames(out)).toEqual(['ANTHROPIC_API_KEY']);
  });

  it('names a key even where a token shape covers the part of it left unencoded', () => {
    const key = 'sk-ant-api03-0123456789abcdefghij~?&=';
    const r = createRedactor({ ANTHROPIC_API_KEY: key });
    expect(r(`k="${encodeURIComponent(key)}"`)).toBe('k="[REDACTED:ANTHROPIC_API_KEY]"');
    expect(r('other sk-ant-api03-ZZZZZZZZZZZZZZZZZZZZZZZZ')).toBe('other [REDACTED]');
  });

  it('redacts base64 wrapped at 76 or 64 columns, as base64 and openssl write it', () => {
    const long = `${KEY}${KEY}${KEY}`;
    const r = createRedactor({ LONG_TOKEN: long });
    for (const width of [76, 64]) {
      const wrapped = b64(`${long}\n`).match(new RegExp(`.{1,${width}}`, 'g'))!.join('\n');
      expect(wrapped).toContain('\n');
      const out = r(wrapped);
      expect(out.startsWith('[REDACTED:LONG_TOKEN]'), out).toBe(true);
    }
  });

  it('redacts a form-encoded value with spaces', () => {
    const r = createRedactor({ DB_PASSWORD: 'correct horse battery' });
    expect(r('user=me&password=correct+horse+battery&x=1')).toBe('user=me&password=[REDACTED:DB_PASSWORD]&x=1');
    expect(r('p=correct%20horse%20battery')).toBe('p=[REDACTED:DB_PASSWORD]');
  });

  it(`keeps the MIN_REDACTED_LENGTH rule: a short value's encodings stay`, () => {
    const short = 'x'.repeat(MIN_REDACTED_LENGTH - 1);
    const r = createRedactor({ SHORT_TOKEN: short, FLAG_SECRET: 'true' });
    const text = `${b64(short)} ${Buffer.from(short).toString('hex')} ${encodeURIComponent(short)} ${b64('true')} 74727565`;
    expect(r(text)).toBe(text);
  });

  it('leaves text without the value alone, and values of variables that are not secret-named', () => {
    const text = `METRIC loss=0.5 ${b64('/home/someone')} ${Buffer.from('/home/someone').toString('hex')} %2Fhome%2Fsomeone 100% done, 50%+ faster deadbeef`;
    expect(redact(text)).toBe(text);
  });

  it('is still one pass per kind for 200 secrets over 256 KiB, with a % in the text', () => {
    const env: NodeJS.ProcessEnv = {};
    for (let i = 0; i < 200; i++) env[`SERVICE_${i}_TOKEN`] = `value-${i}-${'q'.repeat(i % 7)}-${(i * 7919).toString(36)}`;
    const r = createRedactor(env);
    const line = `step 123 loss=0.5 45% ${b64(env.SERVICE_7_TOKEN!)} ${Buffer.from(env.SERVICE_9_TOKEN!).toString('hex')} ${'x'.repeat(60)}\n`;
    const text = line.repeat(Math.ceil((256 * 1024) / line.length));
    const started = performance.now();
    const out = r(text);
    const ms = performance.now() - started;
    expect(out.split('[REDACTED:SERVICE_7_TOKEN]')).toHaveLength(text.split('\n').length);
    expect(out.split('[REDACTED:SERVICE_9_TOKEN]')).toHaveLength(text.split('\n').length);
    expect(ms).toBeLessThan(2_000);
  });
});

describe('percentEncodedPattern', () => {
  it('takes each character as it is or as its UTF-8 bytes in either case', () => {
    const re = new RegExp(`^(?:${percentEncodedPattern('pä/ss+wd')})$`);
    for (const form of ['pä/ss+wd', encodeURIComponent('pä/ss+wd'), 'p%C3%a4%2fss%2Bwd', 'p%c3%a4/ss+wd']) expect(re.test(form), form).toBe(true);
    expect(re.test('pa/ss+wd')).toBe(false);
  });
});

describe('leakedSecretNames', () => {
  it('names a secret the new text holds in any form and the old did not', () => {
    expect(leakedSecretNames('const x = 1;\n', `const x = atob("${b64(KEY)}");\n`, redact)).toEqual(['ANTHROPIC_API_KEY']);
    expect(leakedSecretNames(null, Buffer.from(KEY).toString('hex'), redact)).toEqual(['ANTHROPIC_API_KEY']);
  });

  it('does not blame a change that leaves a secret that was already there, or a marker', () => {
    expect(leakedSecretNames(`k=${b64(KEY)}\n`, `k=${b64(KEY)}\nmore\n`, redact)).toEqual([]);
    expect(leakedSecretNames(null, 'see [REDACTED:ANTHROPIC_API_KEY] in the log', redact)).toEqual([]);
  });
});
