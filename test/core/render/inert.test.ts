import { describe, expect, it } from 'vitest';
import { cell, inertText, neutralize, oneLine, quote, title } from '../../../src/core/render/markdown.js';
import { renderGateOutput } from '../../../src/core/render/gate.js';
import { renderExperimentPullRequest } from '../../../src/core/render/experiment-pull-request.js';
import { makeResultDocument } from '../../fixtures/records/result.js';

const ZWJ = '\u200d';

describe('proposer text is inert', () => {
  it('breaks closing keywords, references, autolinks, links, images, mentions and entities', () => {
    expect(neutralize('Fixes #1')).toBe(`F${ZWJ}ixes #${ZWJ}1`);
    expect(neutralize('closes octo/repo#2, resolved GH-3')).toBe(`c${ZWJ}loses octo/repo#${ZWJ}2, r${ZWJ}esolved G${ZWJ}H-3`);
    expect(neutralize('[docs](https://evil.example) ![x](http://evil/p.png) [r]: www.evil.example')).toBe(
      `[docs&#93;(h${ZWJ}ttps://evil.example) ![x&#93;(h${ZWJ}ttp://evil/p.png) [r&#93;: w${ZWJ}ww.evil.example`,
    );
    expect(neutralize('@mona &#64;team &amp; a && b')).toBe(`@\u200bmona &amp;#${ZWJ}64;team &amp;amp; a && b`);
    // A bracket that closes nothing stays as written: an interval reads `[−0.1, −0.06]`.
    expect(cell('90% [−0.1, −0.06] (paired t)')).toBe('90% [−0.1, −0.06] (paired t)');
  });

  it('holds in titles and commit subjects too, within the length asked for', () => {
    expect(inertText('Fixes #1 @mona')).toBe(`F${ZWJ}ixes #${ZWJ}1 @\u200bmona`);
    expect(title('#1'.repeat(200), 200).length).toBeLessThanOrEqual(200);
    const { title: prTitle, body } = renderExperimentPullRequest({ issue: 12, k: 1, runPullRequest: 13, hypothesis: `Fixes #1 ${'x'.repeat(52_000)}`, proposalRun: 'https://github.com/o/r/actions/runs/1' });
    expect(prTitle.length).toBeLessThanOrEqual(256);
    expect(body.length).toBeLessThan(3_000);
    expect(prTitle + body).not.toMatch(/Fixes #1/);
  });
});

/** Milliseconds `render` takes for `text`: the best of a few runs, so one slow run (a GC) does not count. */
function cost(render: (text: string) => unknown, text: string): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    render(text);
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

describe('escaping is linear in the text', () => {
  const shapes: Record<string, (n: number) => string> = {
    'comment delimiters': (n) => '<!-'.repeat(n / 3),
    'nested delimiters': (n) => `${'<!'.repeat(n / 4)}${'--'.repeat(n / 4)}`,
    'escape sequences': (n) => '\x1b]'.repeat(n / 2),
    'references and keywords': (n) => 'fixes #1 '.repeat(n / 9),
    brackets: (n) => '](['.repeat(n / 3),
  };
  for (const [name, shape] of Object.entries(shapes)) {
    it(`of ${name}: 10 times the text costs far less than 100 times the work`, () => {
      const helpers = [neutralize, (t: string) => oneLine(t, Infinity), (t: string) => quote(t, Infinity), title];
      for (const helper of helpers) {
        const small = cost(helper, shape(48_000));
        const large = cost(helper, shape(480_000));
        // Linear work gives about 10; quadratic work gives about 100. Generous, so a busy machine does not fail it.
        expect(large / Math.max(small, 0.5)).toBeLessThan(40);
      }
    });
  }

  it('renders a gate with a 96 KB reason in a few milliseconds of work, the reason cut first', () => {
    const document = { ...makeResultDocument(), status: 'invalid' as const, verdict: 'invalid' as const, judgement: null, reason: '<!-'.repeat(32_000) };
    const gate = renderGateOutput({ document });
    expect(gate.title.length).toBeLessThanOrEqual(100);
    expect(gate.summary.length).toBeLessThan(5_000);
  });
});
