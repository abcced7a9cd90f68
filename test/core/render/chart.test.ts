import { describe, expect, it } from 'vitest';
import { escapeXml, niceTicks, renderProgressChart } from '../../../src/core/render/chart.js';
import type { ExperimentRecord } from '../../../src/core/ledger/records.js';
import { makeExperiment, makeLedger, makeRun } from '../../fixtures/records/ledger.js';
import { makeNoisyLedger } from './helpers.js';

/** Checks that every element is closed in order: enough to catch broken markup without an XML parser. */
function expectBalancedTags(svg: string): void {
  const stack: string[] = [];
  const withoutComments = svg.replace(/<!--[\s\S]*?-->/g, '');
  for (const match of withoutComments.matchAll(/<(\/?)([a-zA-Z][\w:-]*)([^>]*)>/g)) {
    const [, closing, name, rest] = match;
    if (closing) expect(stack.pop(), `closing </${name}>`).toBe(name);
    else if (!rest!.endsWith('/')) stack.push(name!);
  }
  expect(stack).toEqual([]);
}

function count(svg: string, needle: string): number {
  return svg.split(needle).length - 1;
}

/** Every `&` starts an entity: nothing unescaped leaked into the markup. */
function expectNoRawAmpersand(svg: string): void {
  expect(svg).not.toMatch(/&(?!(?:amp|lt|gt|quot|#39);)/);
}

function expectNoBadNumbers(svg: string): void {
  expect(svg).not.toMatch(/NaN|Infinity|undefined|null/);
}

/** Centre y of each marker of a kind, from the circle's cy. */
function circleYs(svg: string, kind: 'keep' | 'discard'): number[] {
  return [...svg.matchAll(new RegExp(`class="marker marker-${kind}"[^>]*? cy="([\\d.]+)"`, 'g'))].map((m) => Number(m[1]));
}

/** y of the centre of each red ×. */
function invalidYs(svg: string): number[] {
  return [...svg.matchAll(/class="marker marker-invalid"[^>]*><title>[^<]*<\/title><line x1="[\d.]+" y1="([\d.]+)" x2="[\d.]+" y2="([\d.]+)"/g)].map(
    (m) => (Number(m[1]) + Number(m[2])) / 2,
  );
}

/** The y axis read back from the tick labels: a change in percent → its y in pixels. */
function yScale(svg: string): (percent: number) => number {
  const ticks = [...svg.matchAll(/<text x="[\d.]+" y="([\d.]+)" dy="0.35em" text-anchor="end" font-size="11"[^>]*>([^<]+)<\/text>/g)].map((m) => ({
    y: Number(m[1]),
    value: Number(m[2]!.replace('−', '-').replace('+', '').replace('%', '')),
  }));
  const [a, b] = [ticks[0]!, ticks.at(-1)!];
  return (percent) => a.y + ((percent - a.value) / (b.value - a.value)) * (b.y - a.y);
}

/** The y of the line the points are measured against: their parent, 0%. */
function parentLineY(svg: string): number {
  return Number(/class="parent-line" x1="[\d.]+" x2="[\d.]+" y1="([\d.]+)"/.exec(svg)![1]);
}

/** The two ends (y) of each experiment's interval bar. */
function bars(svg: string): Map<number, [number, number]> {
  return new Map(
    [...svg.matchAll(/class="interval" data-experiment="(\d+)" x1="[\d.]+" x2="[\d.]+" y1="([\d.]+)" y2="([\d.]+)"/g)].map((m) => [Number(m[1]), [Number(m[2]), Number(m[3])]]),
  );
}

describe('each experiment against its own parent', () => {
  it('never draws a discarded candidate as beating what was kept when only the machine got slower', () => {
    // 92.4 is below the best as kept (109.5): on an absolute scale it sat under the best-so-far line. Against its own
    // parent, measured at 154.2 beside it, it is −40.1% with an interval up to +4%: within the noise.
    const { run, experiments } = makeNoisyLedger();
    const svg = renderProgressChart(run, experiments);
    expectBalancedTags(svg);
    expectNoBadNumbers(svg);
    const y = yScale(svg);
    const zero = parentLineY(svg);
    expect(zero).toBeCloseTo(y(0), 0);
    const [kept] = circleYs(svg, 'keep');
    const [discarded] = circleYs(svg, 'discard');
    expect(kept).toBeCloseTo(y(-45.25), 0);
    expect(discarded).toBeCloseTo(y((92.4 - 154.2) / 1.542), 0);
    // Lower is better, drawn lower: the discarded point is above the kept one, on the worse side of what was kept.
    expect(discarded).toBeLessThan(kept!);
    // And its interval reaches across the parent line (not beyond the noise), while the kept one's stays wholly below it.
    const [keptTop, keptBottom] = bars(svg).get(1)!.sort((a, b) => a - b);
    const [discardedTop, discardedBottom] = bars(svg).get(2)!.sort((a, b) => a - b);
    expect(discardedTop).toBeCloseTo(y(6.168 / 1.542), 0);
    expect(discardedTop).toBeLessThan(zero);
    expect(discardedBottom).toBeGreaterThan(zero);
    expect(keptTop).toBeGreaterThan(zero);
    expect(keptBottom).toBeCloseTo(y(-50), 0);
    // No absolute best-so-far line for a point to sit under: the title and the legend say what is plotted.
    expect(svg).not.toContain('class="best-line"');
    expect(svg).toContain('each experiment: its candidate against its parent measured beside it (0%), with the interval of the change');
    expect(svg).toContain('sort_ms: change vs parent, % (lower is better)');
  });

  it('marks a candidate that was better but held back (a guard regressed) apart from the other discards, and says why', () => {
    const { run, experiments } = makeNoisyLedger();
    const svg = renderProgressChart(run, experiments);
    expect(count(svg, 'class="marker marker-held"')).toBe(1);
    expect(count(svg, 'class="marker marker-discard"')).toBe(1);
    expect(svg).toMatch(/data-experiment="3"[^>]*><title>#3 discard: sort_ms = 98 vs parent 110 in this experiment \(−10\.9%, 90% interval −13% to −9\.1%\): better beyond the noise, but guard heap_mb regressed by \+44\.1% — cache the pivots<\/title>/);
    expect(svg).toContain('>better, not kept</text>');
  });
});

describe('renderProgressChart', () => {
  it('renders one standalone, balanced SVG with a marker per experiment', () => {
    const { run, experiments } = makeLedger();
    const svg = renderProgressChart(run, experiments);

    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="800" height="400"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(count(svg, '<svg')).toBe(1);
    expectBalancedTags(svg);
    expectNoBadNumbers(svg);
    expectNoRawAmpersand(svg);
    // Nothing to fetch: no fonts, scripts, images or links.
    expect(svg).not.toMatch(/<script|<image|@import|href=|url\(http/);

    expect(count(svg, 'class="marker marker-baseline"')).toBe(1);
    expect(count(svg, 'class="marker marker-keep"')).toBe(2);
    expect(count(svg, 'class="marker marker-discard"')).toBe(2);
    expect(count(svg, 'class="marker marker-invalid"')).toBe(2);
    expect(count(svg, 'class="parent-line"')).toBe(1);
    // One run per side: no interval to draw.
    expect(count(svg, 'class="interval"')).toBe(0);
  });

  it('names the metric and its direction, and titles the run', () => {
    const { run, experiments } = makeLedger();
    const svg = renderProgressChart(run, experiments);
    expect(svg).toContain('val_loss: change vs parent, % (lower is better)');
    expect(svg).toContain('autoloop progress: 6 experiments, 2 kept improvements');
    expect(svg).toContain('baseline 0.5 → best 0.4 (−20%)');
    for (const label of ['baseline', 'kept', 'discarded', 'crash/invalid', 'parent (0%)']) expect(svg).toContain(`>${label}</text>`);
    // Only what the chart has: no held-back candidate, no interval.
    expect(svg).not.toContain('>better, not kept</text>');
    expect(svg).not.toContain('>interval</text>');
  });

  it('annotates kept points with their hypothesis, truncated and escaped', () => {
    const run = makeRun();
    const long = 'lr <0.01> & "momentum" 0.9 with a much longer explanation that goes on';
    const svg = renderProgressChart(run, [
      makeExperiment({ experiment: 0, metric: 1, best: 1 }),
      makeExperiment({ experiment: 1, metric: 0.8, best: 0.8, description: long }),
      makeExperiment({ experiment: 2, status: 'discard', metric: 0.9, best: 0.8, description: 'not annotated <x>' }),
    ]);
    expectNoRawAmpersand(svg);
    expectBalancedTags(svg);
    expect(svg).not.toContain('<0.01>');
    expect(svg).toContain('class="annotation"');
    expect(svg).toMatch(/>lr &lt;0\.01&gt; &amp; &quot;momentum&quot;[^<]*…<\/text>/);
    expect(svg).not.toMatch(/class="annotation"[^>]*>not annotated/);
    expect(renderProgressChart(run, [makeExperiment({ experiment: 0 }), makeExperiment({ experiment: 1, description: 'x' })], { annotate: false })).not.toContain(
      'class="annotation"',
    );
  });

  it('escapes the title and the run tag', () => {
    const svg = renderProgressChart(makeRun({ tag: 'a&b' }), [makeExperiment({ experiment: 0 })], { title: 'Run <1> & "2"' });
    expect(svg).toContain('Run &lt;1&gt; &amp; &quot;2&quot;');
    expect(svg).toContain('run a&amp;b');
    expectNoRawAmpersand(svg);
  });

  it('draws each kept point at its change against its parent, and the baseline on the parent line', () => {
    const { run, experiments } = makeLedger();
    const svg = renderProgressChart(run, experiments);
    const y = yScale(svg);
    // 0.5 → 0.45 (−10%), then 0.45 → 0.4 (−11.1%); the discards 0.45 → 0.47 and 0.4 → 0.41, worse, above the parent line.
    expect(circleYs(svg, 'keep').map((cy) => Math.round(cy))).toEqual([y(-10), y(-100 / 9)].map(Math.round));
    expect(circleYs(svg, 'discard').map((cy) => Math.round(cy))).toEqual([y(200 / 45), y(2.5)].map(Math.round));
    const baseline = Number(/class="marker marker-baseline" data-experiment="0" d="M[\d.]+ ([\d.]+)/.exec(svg)![1]) + 6.5;
    expect(baseline).toBeCloseTo(parentLineY(svg), 0);
  });

  it('draws invalid experiments on the worse edge: the top when minimizing, the bottom when maximizing', () => {
    const { run, experiments } = makeLedger();
    const minimize = renderProgressChart(run, experiments);
    const measured = [...circleYs(minimize, 'keep'), ...circleYs(minimize, 'discard')];
    expect(invalidYs(minimize)).toHaveLength(2);
    for (const y of invalidYs(minimize)) expect(y).toBeLessThan(Math.min(...measured));

    const maxRun = makeRun({ metric: { name: 'accuracy', goal: 'maximize' } });
    const maxExperiments: ExperimentRecord[] = [
      makeExperiment({ experiment: 0, metric: 0.7, best: 0.7 }),
      makeExperiment({ experiment: 1, metric: 0.75, best: 0.75 }),
      makeExperiment({ experiment: 2, status: 'crash', best: 0.75 }),
      makeExperiment({ experiment: 3, status: 'discard', metric: 0.72, best: 0.75 }),
    ];
    const maximize = renderProgressChart(maxRun, maxExperiments);
    expect(maximize).toContain('accuracy: change vs parent, % (higher is better)');
    const maxMeasured = [...circleYs(maximize, 'keep'), ...circleYs(maximize, 'discard')];
    expect(invalidYs(maximize)).toHaveLength(1);
    expect(invalidYs(maximize)[0]).toBeGreaterThan(Math.max(...maxMeasured));
    // Higher is better, so the better kept point is drawn above (smaller y) the discarded one.
    expect(circleYs(maximize, 'keep')[0]).toBeLessThan(circleYs(maximize, 'discard')[0]!);
    expectNoBadNumbers(maximize);
  });

  it('renders an empty run', () => {
    const svg = renderProgressChart(makeRun(), []);
    expectBalancedTags(svg);
    expectNoBadNumbers(svg);
    expect(svg).toContain('no experiments yet');
    expect(svg).not.toContain('class="marker ');
    expect(svg).not.toContain('class="best-line"');
  });

  it('renders a run with only a baseline, or only failures', () => {
    const single = renderProgressChart(makeRun(), [makeExperiment({ experiment: 0, metric: 0.3, best: 0.3 })]);
    expectBalancedTags(single);
    expectNoBadNumbers(single);
    expect(count(single, 'class="marker marker-baseline"')).toBe(1);
    expect(single).toContain('class="parent-line"');

    const failed = renderProgressChart(makeRun(), [makeExperiment({ experiment: 0, status: 'crash', best: null })]);
    expectBalancedTags(failed);
    expectNoBadNumbers(failed);
    expect(count(failed, 'class="marker marker-invalid"')).toBe(1);
    expect(failed).toContain('no experiment was measured');
    expect(failed).not.toContain('class="parent-line"');
  });

  it('renders a flat run with a real scale, and signed percentages either way', () => {
    const flat = renderProgressChart(
      makeRun(),
      [0, 1, 2].map((i) => makeExperiment({ experiment: i, status: i === 0 ? 'keep' : 'discard', metric: 2, best: 2 })),
    );
    expectNoBadNumbers(flat);
    const flatTicks = [...flat.matchAll(/text-anchor="end" font-size="11"[^>]*>([^<]+)</g)].map((m) => m[1]);
    expect(new Set(flatTicks).size).toBe(flatTicks.length);
    expect(flatTicks.length).toBeGreaterThanOrEqual(3);

    const negative = renderProgressChart(makeRun({ metric: { name: 'reward', goal: 'maximize' } }), [
      makeExperiment({ experiment: 0, metric: -3.2, best: -3.2 }),
      makeExperiment({ experiment: 1, metric: -2.9, best: -2.9 }),
    ]);
    expectNoBadNumbers(negative);
    // −3.2 → −2.9 is +9.4%: the scale is of changes, signed.
    expect(negative).toMatch(/>\+10%</);
    expect(negative).toMatch(/>0%</);
    expect(renderProgressChart(makeNoisyLedger().run, makeNoisyLedger().experiments)).toMatch(/>−40%</);
  });

  it('clamps a wild discarded value to the edge instead of flattening the rest', () => {
    const svg = renderProgressChart(makeRun(), [
      makeExperiment({ experiment: 0, metric: 0.05, best: 0.05 }),
      makeExperiment({ experiment: 1, metric: 0.04, best: 0.04 }),
      makeExperiment({ experiment: 2, status: 'discard', metric: 40, best: 0.04 }),
    ]);
    expect(count(svg, 'class="marker marker-discard"')).toBe(1);
    expect(svg).toContain('data-offscale="true"');
    expect(svg).not.toContain('>40<');
    expect(svg).toContain('val_loss = 40');
  });

  it('follows the width and height options', () => {
    const { run, experiments } = makeLedger();
    const svg = renderProgressChart(run, experiments, { width: 1200, height: 600 });
    expect(svg).toContain('width="1200" height="600" viewBox="0 0 1200 600"');
    expectNoBadNumbers(svg);
  });
});

describe('niceTicks', () => {
  it.each([
    [0.0101, 0.0456],
    [0, 1],
    [-3.5, -2.9],
    [12, 987],
    [1e-7, 3e-7],
  ])('covers [%d, %d] with 1-2-5 steps', (min, max) => {
    const { ticks, step } = niceTicks(min, max, 5);
    expect(ticks[0]).toBeLessThanOrEqual(min);
    expect(ticks.at(-1)).toBeGreaterThanOrEqual(max);
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(ticks.length).toBeLessThanOrEqual(12);
    const mantissa = Number((step / 10 ** Math.floor(Math.log10(step))).toPrecision(6));
    expect([1, 2, 5]).toContain(mantissa);
    for (const tick of ticks) expect(Math.abs(Number((tick / step).toPrecision(9)) % 1)).toBe(0);
  });

  it('gives a flat range a scale around its value', () => {
    const { ticks } = niceTicks(2, 2);
    expect(ticks[0]).toBeLessThan(2);
    expect(ticks.at(-1)).toBeGreaterThan(2);
  });

  it('rounds away floating-point noise', () => {
    expect(niceTicks(0, 0.3, 3).ticks).toEqual([0, 0.1, 0.2, 0.3]);
  });
});

describe('escapeXml', () => {
  it('escapes the five XML specials', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
