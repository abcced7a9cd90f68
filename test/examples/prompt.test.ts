import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config/config.js';

const run = promisify(execFile);
const EXAMPLE = fileURLToPath(new URL('../../examples/prompt', import.meta.url));
const KEY = 'sk-test-example-prompt-0000000000';

interface ChatRequest {
  model: string;
  temperature: number;
  messages: { role: string; content: string }[];
}

let server: Server;
let baseUrl: string;
const requests: { auth: string | undefined; body: ChatRequest }[] = [];
let labels: Map<string, string>;
let failWith: number | null = null;

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  const lines = (await readFile(join(EXAMPLE, 'examples.jsonl'), 'utf8')).split('\n').filter((line) => line.trim());
  labels = new Map(lines.map((line) => JSON.parse(line) as { text: string; label: string }).map(({ text, label }) => [text, label]));
  // Canned model: right on every example but each 4th, phrased a little differently each time.
  const order = [...labels.keys()];
  server = createServer((request, response) => {
    void bodyOf(request).then((text) => {
      if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
        response.writeHead(404).end();
        return;
      }
      if (failWith) {
        response.writeHead(failWith, { 'content-type': 'application/json' }).end('{"error":{"message":"Incorrect API key provided"}}');
        return;
      }
      const body = JSON.parse(text) as ChatRequest;
      requests.push({ auth: request.headers.authorization, body });
      const message = body.messages.find((m) => m.role === 'user')!.content;
      const index = order.indexOf(message);
      const label = labels.get(message) ?? 'unknown';
      const answer = index % 4 === 3 ? 'other' : [label, `${label[0]!.toUpperCase()}${label.slice(1)}.`, `Category: ${label}`][index % 3]!;
      response.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 50, completion_tokens: 2, total_tokens: 52 },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function evaluate(env: NodeJS.ProcessEnv) {
  return run(process.execPath, ['eval.mjs'], { cwd: EXAMPLE, env: { PATH: process.env.PATH, ...env } });
}

function metrics(stdout: string): Record<string, number> {
  return Object.fromEntries([...stdout.matchAll(/^METRIC (\w+)=(\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}

describe('examples/prompt', () => {
  it('ships a valid config: accuracy maximised, tokens guarded, llm proposer with a price', async () => {
    const text = await readFile(join(EXAMPLE, '.github/autoloop.yml'), 'utf8');
    const config = parseConfig(text, '.github/autoloop.yml');
    expect(config.metric).toMatchObject({ name: 'accuracy', goal: 'maximize', min_effect: { kind: 'absolute', value: 0.05 } });
    expect(config.guards).toEqual([{ name: 'tokens', goal: 'minimize', max_regression: { kind: 'absolute', value: 3000 } }]);
    expect(config.evaluate).toMatchObject({ command: 'node eval.mjs', network: true, env: ['OPENAI_API_KEY', 'OPENAI_BASE_URL', 'EVAL_MODEL'] });
    expect(config.scope).toEqual({ edit: ['prompt.txt'], protect: ['eval.mjs', 'examples.jsonl'] });
    expect(config.proposer.kind).toBe('llm');
    expect(config.proposer.llm).toMatchObject({ provider: 'openai', model: 'gpt-4.1-mini', price: { input_per_million: 0.4, output_per_million: 1.6 } });

    // The commented alternative is a valid proposer section too.
    const lines = text.split('\n');
    const start = lines.indexOf('# proposer:');
    expect(start).toBeGreaterThan(0);
    const alternative = lines.slice(start).filter((line) => line.startsWith('# ')).map((line) => line.slice(2));
    const swapped = text.replace(/^proposer:\n(?: {2}.*\n)+/m, `${alternative.join('\n')}\n`);
    const command = parseConfig(swapped, '.github/autoloop.yml');
    expect(command.proposer.kind).toBe('command');
    expect(command.proposer.command).toMatchObject({ run: expect.stringContaining('"$(cat "$AUTOLOOP_PROMPT_FILE")"'), env: ['ANTHROPIC_API_KEY'] });
  });

  it('eval.mjs asks an OpenAI-compatible API about every example and prints accuracy and tokens', async () => {
    requests.length = 0;
    const { stdout } = await evaluate({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: baseUrl });
    // 20 examples, every 4th answered wrong: 15 right.
    expect(metrics(stdout)).toEqual({ accuracy: 0.75, tokens: 20 * 52 });
    expect(requests).toHaveLength(20);
    const prompt = (await readFile(join(EXAMPLE, 'prompt.txt'), 'utf8')).trim();
    for (const { auth, body } of requests) {
      expect(auth).toBe(`Bearer ${KEY}`);
      expect(body).toMatchObject({ model: 'gpt-4.1-nano', temperature: 0 });
      expect(body.messages[0]).toEqual({ role: 'system', content: prompt });
    }
    expect(new Set(requests.map(({ body }) => body.messages[1]!.content))).toEqual(new Set(labels.keys()));
  });

  it('fails without a number when the key is missing or the API refuses', async () => {
    await expect(evaluate({ OPENAI_BASE_URL: baseUrl })).rejects.toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining('OPENAI_API_KEY is not set') });
    failWith = 401;
    try {
      const error = await evaluate({ OPENAI_API_KEY: KEY, OPENAI_BASE_URL: baseUrl }).catch((e: { code: number; stdout: string; stderr: string }) => e);
      expect(error).toMatchObject({ code: 1, stderr: expect.stringContaining('answered 401') });
      expect((error as { stdout: string }).stdout).not.toContain('METRIC');
    } finally {
      failWith = null;
    }
  });
});
