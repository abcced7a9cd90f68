import { describe, expect, it } from 'vitest';
import { applyEdits, parseAnswer, type Edit } from '../../../src/core/propose/edits.js';

const answer = (body: string) => `HYPOTHESIS: raise lr\n\n${body}`;

describe('parseAnswer', () => {
  it('reads the hypothesis and search/replace blocks', () => {
    const text = `Some preamble.
HYPOTHESIS: raise the learning rate to 0.02

train.py
<<<<<<< SEARCH
lr = 0.01
=======
lr = 0.02
>>>>>>> REPLACE

\`src/new.py\`:
\`\`\`python
<<<<<<< SEARCH
=======
print("new")
>>>>>>> REPLACE
\`\`\`
`;
    expect(parseAnswer(text)).toEqual({
      hypothesis: 'raise the learning rate to 0.02',
      edits: [
        { path: 'train.py', search: 'lr = 0.01', replace: 'lr = 0.02' },
        { path: 'src/new.py', search: '', replace: 'print("new")' },
      ],
    });
  });

  it('keeps indentation and blank lines inside blocks', () => {
    const parsed = parseAnswer(answer('a.py\n<<<<<<< SEARCH\n    x = 1\n\n    y = 2\n=======\n    x = 3\n>>>>>>> REPLACE\n'));
    expect(parsed).toEqual({ hypothesis: 'raise lr', edits: [{ path: 'a.py', search: '    x = 1\n\n    y = 2', replace: '    x = 3' }] });
  });

  it('reads CRLF answers', () => {
    expect(parseAnswer('HYPOTHESIS: h\r\na\r\n<<<<<<< SEARCH\r\nx\r\n=======\r\ny\r\n>>>>>>> REPLACE\r\n')).toEqual({
      hypothesis: 'h',
      edits: [{ path: 'a', search: 'x', replace: 'y' }],
    });
  });

  it.each([
    ['no hypothesis', 'a\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE', /HYPOTHESIS/],
    ['no blocks', 'HYPOTHESIS: h\nI would change x.', /no edit blocks/],
    ['no divider', answer('a\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE'), /a \(line 4\) has no "=======" line/],
    ['no end', answer('a\n<<<<<<< SEARCH\nx\n=======\ny'), /does not end with ">>>>>>> REPLACE"/],
    ['no path', answer('<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE'), /no file path/],
    ['an absolute path', answer('/etc/passwd\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE'), /not relative/],
    ['a path leaving the repository', answer('../x\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE'), /"\.\."/],
    ['a stray marker', answer('=======\n'), /outside an edit block/],
  ])('refuses %s', (_name, text, message) => {
    const parsed = parseAnswer(text);
    expect('error' in parsed && parsed.error).toMatch(message);
  });
});

describe('applyEdits', () => {
  const files = new Map([
    ['train.py', 'lr = 0.01\nepochs = 3\n'],
    ['dup.py', 'x = 1\nx = 1\n'],
  ]);
  const apply = (...edits: Edit[]) => applyEdits(files, edits);

  it('replaces text that matches exactly once, in order, without touching the input', () => {
    const result = apply({ path: 'train.py', search: 'lr = 0.01', replace: 'lr = 0.02' }, { path: 'train.py', search: 'epochs = 3', replace: 'epochs = 4' });
    expect(result).toEqual({ files: new Map([...files, ['train.py', 'lr = 0.02\nepochs = 4\n']]), changed: ['train.py'] });
    expect(files.get('train.py')).toBe('lr = 0.01\nepochs = 3\n');
  });

  it('creates a file from an empty SEARCH', () => {
    const result = apply({ path: 'src/new.py', search: '', replace: 'print(1)' });
    expect('files' in result && result.files.get('src/new.py')).toBe('print(1)\n');
    expect('changed' in result && result.changed).toEqual(['src/new.py']);
  });

  it('names the path and the first line when SEARCH matches nowhere', () => {
    expect(apply({ path: 'train.py', search: 'lr = 0.5\nmore', replace: '' })).toEqual({
      error: 'edit 1 (train.py): the SEARCH text starting "lr = 0.5" was not found in train.py',
    });
  });

  it('hints when only whitespace differs', () => {
    const result = apply({ path: 'train.py', search: 'lr  =  0.01', replace: '' });
    expect('error' in result && result.error).toMatch(/different spaces or indentation/);
  });

  it('refuses SEARCH text that matches more than once', () => {
    expect(apply({ path: 'dup.py', search: 'x = 1', replace: 'x = 2' })).toEqual({
      error: 'edit 1 (dup.py): the SEARCH text starting "x = 1" matches 2 times in dup.py; include more surrounding lines so it matches exactly once',
    });
  });

  it('refuses edits to a missing file and creating an existing one', () => {
    expect(apply({ path: 'nope.py', search: 'x', replace: 'y' })).toEqual({ error: expect.stringMatching(/nope\.py does not exist/) });
    expect(apply({ path: 'train.py', search: '', replace: 'y' })).toEqual({ error: expect.stringMatching(/already exists/) });
  });

  it('applies nothing when a later edit fails', () => {
    const result = apply({ path: 'train.py', search: 'lr = 0.01', replace: 'lr = 0.02' }, { path: 'train.py', search: 'missing', replace: '' });
    expect(result).toEqual({ error: expect.stringMatching(/^edit 2 \(train\.py\)/) });
  });

  it('does not count an edit that changes nothing', () => {
    expect(apply({ path: 'train.py', search: 'lr = 0.01', replace: 'lr = 0.01' })).toEqual({ files: new Map(files), changed: [] });
  });
});
