import { describe, it, expect } from 'vitest';
import { formatNumber, parseDuration, parseEffect } from '../../../src/core/config/units.js';

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['8h', 28_800_000],
    ['1d', 86_400_000],
    ['250ms', 250],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['45', 45_000],
    [' 5m ', 300_000],
    ['0', 0],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('reads a bare number as seconds', () => {
    expect(parseDuration(90)).toBe(90_000);
    expect(parseDuration(0.25)).toBe(250);
  });

  it.each(['', '5 minutes', '5x', 'm5', '-5s', '5m-', '1h 30m', 'abc'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('rejects negative and non-finite numbers', () => {
    expect(parseDuration(-1)).toBeUndefined();
    expect(parseDuration(Number.NaN)).toBeUndefined();
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBeUndefined();
  });
});

describe('parseEffect', () => {
  it('reads a percentage as relative to the baseline', () => {
    expect(parseEffect('1%')).toEqual({ kind: 'relative', value: 0.01 });
    expect(parseEffect('10%')).toEqual({ kind: 'relative', value: 0.1 });
    expect(parseEffect('+2%')).toEqual({ kind: 'relative', value: 0.02 });
    expect(parseEffect('0.5 %')).toEqual({ kind: 'relative', value: 0.005 });
    expect(parseEffect('0%')).toEqual({ kind: 'relative', value: 0 });
  });

  it('reads a plain number as absolute, in the metric unit', () => {
    expect(parseEffect(0.002)).toEqual({ kind: 'absolute', value: 0.002 });
    expect(parseEffect('0.002')).toEqual({ kind: 'absolute', value: 0.002 });
    expect(parseEffect('1e-3')).toEqual({ kind: 'absolute', value: 0.001 });
    expect(parseEffect(0)).toEqual({ kind: 'absolute', value: 0 });
  });

  it.each<string | number>(['-1%', '-0.5', 'abc', '1%%', '%', '', -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects %j', (input) => {
    expect(parseEffect(input)).toBeUndefined();
  });
});

describe('formatNumber', () => {
  it.each<[number, string]>([
    [0, '0'],
    [1, '1'],
    [-2.5, '-2.5'],
    [0.1 + 0.2, '0.3'],
    [1234.5678, '1235'],
    [12_345.6, '12350'],
    [0.000123456, '0.0001235'],
    [0.00001, '1e-5'],
    [1_234_567, '1.235e+6'],
    [1_000_000, '1e+6'],
  ])('formats %d as %s', (value, text) => {
    expect(formatNumber(value)).toBe(text);
  });

  it('honours the number of significant digits', () => {
    expect(formatNumber(Math.PI, 2)).toBe('3.1');
    expect(formatNumber(Math.PI, 6)).toBe('3.14159');
  });

  it('prints non-finite values as they are', () => {
    expect(formatNumber(Number.NaN)).toBe('NaN');
    expect(formatNumber(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(formatNumber(Number.NEGATIVE_INFINITY)).toBe('-Infinity');
  });
});
