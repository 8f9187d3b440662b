// openai_sdk.mjs drives a running Switchboard gateway with the official
// `openai` npm package, the way a user's application would, and checks what
// the SDK sees. The gateway must sit in front of bench/mock with the test
// config of proxy/gateway_test.go (mock-model -> provider mock, alias-model
// -> mock/mock-model-upstream). proxy/openai_sdk_test.go starts both and
// runs this script; to run it by hand:
//
//	SWITCHBOARD_BASE_URL=http://127.0.0.1:PORT/v1 SWITCHBOARD_API_KEY=sk-... node openai_sdk.mjs
//
// It prints "ok <check>" per passing check, "FAIL <check>: <why>" per failing
// one, and exits 1 if any failed. Every check runs even when an earlier one
// fails, each under its own deadline, and a watchdog bounds the whole run,
// so a hung stream is a failure with a message, never a hang.
//
// Mock fault directives ("+tools=5", "+status=429", "+reset=3") are a mock
// convention the gateway knows nothing about; a bare "mock-model+tools=5" is
// not a model any provider lists, so those calls name the provider
// explicitly ("mock/mock-model+tools=5"), which forwards the id verbatim.

import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { check, deepEq, eq, expectError, fmt, run } from './harness.mjs';

const baseURL = process.env.SWITCHBOARD_BASE_URL;
const apiKey = process.env.SWITCHBOARD_API_KEY;
if (!baseURL || !apiKey) {
  console.error('FAIL setup: set SWITCHBOARD_BASE_URL (e.g. http://127.0.0.1:PORT/v1) and SWITCHBOARD_API_KEY');
  process.exit(2);
}
const host = new URL(baseURL).hostname;
if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') {
  console.error(`FAIL setup: SWITCHBOARD_BASE_URL must be a loopback address, got ${baseURL}`);
  process.exit(2);
}

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 10_000 });

const MOCK = 'mock-model';
const FAULTS = 'mock/mock-model'; // + directives, see the header comment
const CHUNKS = 8; // the mock's default number of content chunks
const expectedText = (n) => Array.from({ length: n }, (_, i) => `chunk ${i} `).join('');
const TEXT = expectedText(CHUNKS);
const messages = [{ role: 'user', content: 'Say hello.' }];
const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Get the current weather in a location.',
    parameters: {
      type: 'object',
      properties: {
        location: { type: 'string' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      },
      required: ['location'],
    },
  },
};

/** collect reads a chat stream into its chunks and concatenated content. */
async function collect(stream) {
  const chunks = [];
  let text = '';
  for await (const chunk of stream) {
    chunks.push(chunk);
    text += chunk.choices?.[0]?.delta?.content ?? '';
  }
  return { chunks, text };
}

/** accumulateToolCalls merges streamed tool_calls deltas by index. */
function accumulateToolCalls(chunks) {
  const calls = [];
  let finish = null;
  for (const chunk of chunks) {
    const choice = chunk.choices?.[0];
    if (!choice) continue;
    for (const d of choice.delta?.tool_calls ?? []) {
      const c = (calls[d.index] ??= { id: '', type: '', function: { name: '', arguments: '' } });
      if (d.id) c.id = d.id;
      if (d.type) c.type = d.type;
      if (d.function?.name) c.function.name += d.function.name;
      if (d.function?.arguments) c.function.arguments += d.function.arguments;
    }
    if (choice.finish_reason) finish = choice.finish_reason;
  }
  return { calls, finish };
}

function parseArgs(args, what) {
  try {
    return JSON.parse(args);
  } catch (e) {
    assert.fail(`${what}: arguments are not JSON (${e.message}): ${JSON.stringify(args)}`);
  }
}

check('chat non-streaming: content, usage, x-request-id, x-switchboard-overhead-us', async () => {
  const { data, response } = await client.chat.completions.create({ model: MOCK, messages }).withResponse();
  eq(data.object, 'chat.completion', 'object');
  eq(data.choices.length, 1, 'choices');
  eq(data.choices[0].message.content, TEXT, 'content');
  eq(data.choices[0].finish_reason, 'stop', 'finish_reason');
  assert.ok(data.usage, `usage missing: ${JSON.stringify(data)}`);
  assert.ok(data.usage.prompt_tokens > 0, `usage.prompt_tokens = ${data.usage.prompt_tokens}, want > 0`);
  assert.ok(data.usage.completion_tokens > 0, `usage.completion_tokens = ${data.usage.completion_tokens}, want > 0`);
  const rid = response.headers.get('x-request-id');
  assert.ok(rid, 'x-request-id header missing');
  eq(data._request_id, rid, '_request_id should come from x-request-id');
  const overhead = response.headers.get('x-switchboard-overhead-us');
  assert.match(overhead ?? '', /^\d+$/, `x-switchboard-overhead-us: got ${fmt(overhead)}, want a non-negative integer`);
  return `request id ${rid}, overhead ${overhead} us`;
});

check('alias: alias-model is rewritten to mock-model-upstream', async () => {
  const r = await client.chat.completions.create({ model: 'alias-model', messages });
  eq(r.model, 'mock-model-upstream', 'model the upstream received (echoed by the mock)');
  eq(r.choices[0].message.content, TEXT, 'content');
});

check('chat streaming: deltas, no usage chunk when not asked', async () => {
  const stream = await client.chat.completions.create({ model: MOCK, messages, stream: true });
  const { chunks, text } = await collect(stream);
  eq(text, TEXT, 'streamed text');
  for (const [i, c] of chunks.entries()) {
    eq(c.object, 'chat.completion.chunk', `chunk ${i} object`);
    assert.ok(c.usage == null, `chunk ${i} carries usage though the client did not ask: ${JSON.stringify(c)}`);
    assert.ok(c.choices.length > 0, `chunk ${i} has no choices (usage-only chunk leaked?): ${JSON.stringify(c)}`);
  }
  const finish = chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
  deepEq(finish, ['stop'], 'finish reasons');
  const nullUsage = chunks.filter((c) => 'usage' in c).length;
  return `${chunks.length} chunks${nullUsage ? `, ${nullUsage} with "usage":null` : ''}`;
});

check('chat streaming with include_usage: final usage-only chunk', async () => {
  const stream = await client.chat.completions.create({
    model: MOCK,
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  const { chunks, text } = await collect(stream);
  eq(text, TEXT, 'streamed text');
  const last = chunks.at(-1);
  assert.ok(last, 'no chunks');
  deepEq(last.choices, [], `choices of the last chunk ${fmt(last)}`);
  assert.ok(last.usage, `last chunk has no usage: ${JSON.stringify(last)}`);
  assert.ok(last.usage.completion_tokens > 0, `usage.completion_tokens = ${last.usage.completion_tokens}, want > 0`);
  assert.ok(last.usage.prompt_tokens > 0, `usage.prompt_tokens = ${last.usage.prompt_tokens}, want > 0`);
  const earlier = chunks.slice(0, -1).filter((c) => c.usage != null);
  eq(earlier.length, 0, `chunks with usage before the last one (${fmt(earlier)})`);
  return `usage ${JSON.stringify(last.usage)}`;
});

let streamedToolCall;
check('tools streaming: one get_weather call accumulated from deltas', async () => {
  const stream = await client.chat.completions.create({
    model: `${FAULTS}+tools=5`,
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
    tools: [weatherTool],
    stream: true,
  });
  const { chunks } = await collect(stream);
  const deltas = chunks.filter((c) => c.choices?.[0]?.delta?.tool_calls?.length).length;
  eq(deltas, 5, 'chunks carrying tool_calls deltas');
  const { calls, finish } = accumulateToolCalls(chunks);
  eq(calls.length, 1, `number of tool calls in ${fmt(calls)}`);
  const [call] = calls;
  eq(call.function.name, 'get_weather', 'function.name');
  eq(call.type, 'function', 'type');
  assert.ok(call.id, 'tool call id missing');
  const args = parseArgs(call.function.arguments, 'streamed tool call');
  eq(typeof args, 'object', 'type of the parsed arguments');
  eq(finish, 'tool_calls', 'finish_reason');
  streamedToolCall = call;
  return `arguments ${call.function.arguments}`;
});

check('tools non-streaming: the same tool call', async () => {
  const r = await client.chat.completions.create({
    model: `${FAULTS}+tools=5`,
    messages: [{ role: 'user', content: 'Weather in Paris?' }],
    tools: [weatherTool],
  });
  const choice = r.choices[0];
  eq(choice.finish_reason, 'tool_calls', 'finish_reason');
  const calls = choice.message.tool_calls ?? [];
  eq(calls.length, 1, `number of tool calls in ${fmt(calls)}`);
  eq(calls[0].type, 'function', 'type');
  eq(calls[0].function.name, 'get_weather', 'function.name');
  const args = parseArgs(calls[0].function.arguments, 'non-streamed tool call');
  if (streamedToolCall) {
    deepEq(args, JSON.parse(streamedToolCall.function.arguments), 'arguments differ from the streamed call');
  }
  assert.ok(r.usage?.completion_tokens > 0, `usage: ${JSON.stringify(r.usage)}`);
});

check('embeddings: two numeric vectors and usage', async () => {
  const r = await client.embeddings.create({ model: MOCK, input: ['a', 'b'] });
  eq(r.data.length, 2, 'embeddings');
  for (const [i, e] of r.data.entries()) {
    eq(e.index, i, `embedding ${i} index`);
    assert.ok(Array.isArray(e.embedding) && e.embedding.length > 0, `embedding ${i} is not a vector: ${JSON.stringify(e.embedding)}`);
    assert.ok(
      e.embedding.every((x) => typeof x === 'number' && Number.isFinite(x)),
      `embedding ${i} has non-numbers: ${JSON.stringify(e.embedding)}`,
    );
  }
  assert.ok(r.usage, 'usage missing');
  eq(typeof r.usage.prompt_tokens, 'number', `usage: ${JSON.stringify(r.usage)}`);
  eq(typeof r.usage.total_tokens, 'number', `usage: ${JSON.stringify(r.usage)}`);
  return `${r.data[0].embedding.length} dimensions, usage ${JSON.stringify(r.usage)}`;
});

check('models.list: mock-model (owned_by mock) and alias-model', async () => {
  const models = [];
  for await (const m of client.models.list()) models.push(m);
  const ids = models.map((m) => m.id);
  const mock = models.find((m) => m.id === 'mock-model');
  assert.ok(mock, `mock-model not listed: ${JSON.stringify(ids)}`);
  eq(mock.owned_by, 'mock', 'mock-model owned_by');
  eq(mock.object, 'model', 'mock-model object');
  assert.ok(ids.includes('alias-model'), `alias-model not listed: ${JSON.stringify(ids)}`);
  return `${ids.length} models: ${ids.join(', ')}`;
});

check('errors: bad key -> AuthenticationError (401)', async () => {
  const bad = new OpenAI({ baseURL, apiKey: 'sk-sb-not-a-key', maxRetries: 0, timeout: 10_000 });
  const err = await expectError(() => bad.chat.completions.create({ model: MOCK, messages }), OpenAI.AuthenticationError, 401, 'bad key');
  return err.message;
});

check('errors: unknown model -> NotFoundError (404)', async () => {
  const err = await expectError(() => client.chat.completions.create({ model: 'nope', messages }), OpenAI.NotFoundError, 404, 'model nope');
  return err.message;
});

check('errors: upstream 429 passes through -> RateLimitError', async () => {
  const err = await expectError(
    () => client.chat.completions.create({ model: `${FAULTS}+status=429`, messages }),
    OpenAI.RateLimitError,
    429,
    'upstream 429',
  );
  return err.message;
});

check('mid-stream upstream reset: the stream throws, does not hang', async () => {
  const stream = await client.chat.completions.create({ model: `${FAULTS}+reset=3`, messages, stream: true });
  let text = '';
  let n = 0;
  let err;
  try {
    for await (const chunk of stream) {
      n++;
      text += chunk.choices?.[0]?.delta?.content ?? '';
    }
  } catch (e) {
    err = e;
  }
  assert.ok(err, `the stream ended without an error after ${n} chunks (${JSON.stringify(text)}); want an in-band error event`);
  assert.ok(
    err instanceof OpenAI.APIError,
    `want OpenAI.APIError from the gateway's in-band error event, got ${err.constructor?.name}: ${err.message}`,
  );
  assert.ok(n <= 3, `${n} chunks before the error; the upstream reset after 3`);
  assert.ok(expectedText(3).startsWith(text), `text before the error ${JSON.stringify(text)} is not a prefix of ${JSON.stringify(expectedText(3))}`);
  return `${n} chunks, then ${err.constructor.name}: ${err.message}`;
});

await run();
