// openai_cross_sdk.mjs drives the gateway with the official `openai` npm
// package against a model served by an Anthropic-format provider, so every
// call is translated both ways: chat, streaming with usage, and tool calls
// streamed and not. proxy/sdk_test.go runs it; by hand:
//
//	SWITCHBOARD_BASE_URL=http://127.0.0.1:PORT/v1 SWITCHBOARD_API_KEY=sk-... \
//	CROSS_MODEL=anth/claude-mock node openai_cross_sdk.mjs

import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { check, eq, fmt, run } from './harness.mjs';

const baseURL = process.env.SWITCHBOARD_BASE_URL;
const apiKey = process.env.SWITCHBOARD_API_KEY;
const model = process.env.CROSS_MODEL;
if (!baseURL || !apiKey || !model) {
  console.error('FAIL setup: set SWITCHBOARD_BASE_URL, SWITCHBOARD_API_KEY and CROSS_MODEL');
  process.exit(2);
}
if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(baseURL).hostname)) {
  console.error(`FAIL setup: SWITCHBOARD_BASE_URL must be a loopback address, got ${baseURL}`);
  process.exit(2);
}

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 10_000 });
const TEXT = Array.from({ length: 8 }, (_, i) => `chunk ${i} `).join(''); // the mock's answer
const messages = [{ role: 'user', content: 'Say hello.' }];
const tools = [{
  type: 'function',
  function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } },
}];

check('chat: translated answer', async () => {
  const r = await client.chat.completions.create({ model, messages, max_tokens: 100 });
  eq(r.object, 'chat.completion', 'object');
  eq(r.choices[0].message.content, TEXT, 'content');
  eq(r.choices[0].finish_reason, 'stop', 'finish_reason');
  assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0, `usage ${fmt(r.usage)}`);
});

check('chat streaming with include_usage', async () => {
  const stream = await client.chat.completions.create({
    model, messages, max_tokens: 100, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let usage;
  const finish = [];
  for await (const chunk of stream) {
    for (const ch of chunk.choices) {
      text += ch.delta?.content ?? '';
      if (ch.finish_reason) finish.push(ch.finish_reason);
    }
    if (chunk.usage) usage = chunk.usage;
  }
  eq(text, TEXT, 'streamed text');
  eq(finish.join(), 'stop', 'finish reasons');
  assert.ok(usage?.completion_tokens > 0, `usage ${fmt(usage)}`);
});

check('tools streaming: arguments reassembled from deltas', async () => {
  const stream = await client.chat.completions.create({
    model: `${model}+tools=5`, messages, max_tokens: 100, tools, stream: true,
  });
  const calls = [];
  let finish;
  for await (const chunk of stream) {
    const ch = chunk.choices[0];
    if (!ch) continue;
    for (const tc of ch.delta?.tool_calls ?? []) {
      calls[tc.index] ??= { id: '', name: '', args: '' };
      calls[tc.index].id += tc.id ?? '';
      calls[tc.index].name += tc.function?.name ?? '';
      calls[tc.index].args += tc.function?.arguments ?? '';
    }
    finish = ch.finish_reason ?? finish;
  }
  eq(calls.length, 1, `tool calls ${fmt(calls)}`);
  eq(calls[0].name, 'get_weather', 'name');
  assert.ok(calls[0].id, 'tool call id');
  eq(JSON.parse(calls[0].args).location, 'Paris, France', `arguments ${calls[0].args}`);
  eq(finish, 'tool_calls', 'finish_reason');
});

check('tools non-streaming', async () => {
  const r = await client.chat.completions.create({ model: `${model}+tools=2`, messages, max_tokens: 100, tools });
  const calls = r.choices[0].message.tool_calls ?? [];
  eq(calls.length, 1, `tool calls ${fmt(calls)}`);
  eq(JSON.parse(calls[0].function.arguments).location, 'Paris, France', 'arguments');
  eq(r.choices[0].finish_reason, 'tool_calls', 'finish_reason');
});

await run();
