// The evaluator of examples/prompt (protected): sends each labelled message in examples.jsonl to an
// OpenAI-compatible chat API with prompt.txt as the system prompt, and prints how many answers name
// the right label, and how many tokens that took:
//
//   METRIC accuracy=0.85
//   METRIC tokens=4210
//
// Environment: OPENAI_API_KEY (required), OPENAI_BASE_URL (default https://api.openai.com/v1),
// EVAL_MODEL (default gpt-4.1-nano). Any failed request fails the whole evaluation (exit 1): a
// partial accuracy would be a number autoloop could wrongly keep.
/* global fetch, AbortSignal */
import { readFileSync } from 'node:fs';

const LABELS = ['billing', 'bug', 'feature', 'account'];
const CONCURRENCY = 4;
const ATTEMPTS = 4;
const REQUEST_TIMEOUT_MS = 60_000;

const baseUrl = (process.env.OPENAI_BASE_URL || 'https://api.openai.com/v1').replace(/\/+$/, '');
const model = process.env.EVAL_MODEL || 'gpt-4.1-nano';
const apiKey = process.env.OPENAI_API_KEY;

function fail(message) {
  console.error(`eval.mjs: ${message}`);
  process.exit(1);
}

/** The label the answer names first, or null when it names none. */
function labelOf(answer) {
  let found = null;
  let at = Infinity;
  for (const label of LABELS) {
    const match = new RegExp(`\\b${label}\\b`).exec(answer.toLowerCase());
    if (match && match.index < at) {
      found = label;
      at = match.index;
    }
  }
  return found;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** One chat completion; retries rate limits and server errors, fails on anything else. */
async function complete(system, user) {
  for (let attempt = 1; ; attempt++) {
    let response;
    try {
      response = await fetch(`${baseUrl}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
        body: JSON.stringify({
          model,
          temperature: 0,
          max_tokens: 20,
          messages: [
            { role: 'system', content: system },
            { role: 'user', content: user },
          ],
        }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      if (attempt >= ATTEMPTS) fail(`${baseUrl}/chat/completions: ${error.message}`);
      await sleep(1000 * 2 ** attempt);
      continue;
    }
    if (response.ok) {
      const body = await response.json();
      const answer = body.choices?.[0]?.message?.content ?? '';
      const usage = body.usage ?? {};
      const tokens = usage.total_tokens ?? (usage.prompt_tokens ?? 0) + (usage.completion_tokens ?? 0);
      // A server that reports no usage: about four characters per token.
      return { answer, tokens: tokens || Math.ceil((system.length + user.length + answer.length) / 4) };
    }
    const text = (await response.text()).slice(0, 300);
    if ((response.status === 429 || response.status >= 500) && attempt < ATTEMPTS) {
      const retryAfter = Number(response.headers.get('retry-after'));
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 1000 * 2 ** attempt);
      continue;
    }
    fail(`${baseUrl}/chat/completions answered ${response.status}: ${text}`);
  }
}

if (!apiKey) fail('OPENAI_API_KEY is not set (autoloop passes it only when evaluate.env names it)');
const prompt = readFileSync(new URL('prompt.txt', import.meta.url), 'utf8').trim();
if (!prompt) fail('prompt.txt is empty');
const examples = readFileSync(new URL('examples.jsonl', import.meta.url), 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line));

const results = new Array(examples.length);
let next = 0;
async function worker() {
  while (next < examples.length) {
    const index = next++;
    const { text, label } = examples[index];
    const { answer, tokens } = await complete(prompt, text);
    results[index] = { label, got: labelOf(answer), answer, tokens };
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker));

let correct = 0;
let tokens = 0;
for (const [index, result] of results.entries()) {
  const ok = result.got === result.label;
  if (ok) correct++;
  tokens += result.tokens;
  console.log(`${ok ? 'ok  ' : 'MISS'} #${index + 1} expected ${result.label}, got ${result.got ?? 'no label'}: ${JSON.stringify(result.answer.slice(0, 60))}`);
}
console.log(`METRIC accuracy=${correct / examples.length}`);
console.log(`METRIC tokens=${tokens}`);
