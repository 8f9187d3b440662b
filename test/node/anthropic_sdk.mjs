// anthropic_sdk.mjs drives a running Switchboard gateway with the official
// `@anthropic-ai/sdk` npm package, the way Claude Code and Anthropic SDK
// applications do, against two models: one served by an Anthropic-format
// provider (pass-through) and one by an OpenAI-format provider
// (translated). proxy/sdk_test.go starts the gateway in front of
// bench/mock and runs this script; by hand:
//
//	SWITCHBOARD_BASE_URL=http://127.0.0.1:PORT SWITCHBOARD_API_KEY=sk-... \
//	SAME_MODEL=anth/claude-mock CROSS_MODEL=mock/mock-model node anthropic_sdk.mjs
//
// The base URL has no /v1, as ANTHROPIC_BASE_URL has none. Output and exit
// status as in harness.mjs.

import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';

import { check, eq, expectError, fmt, run } from './harness.mjs';

const baseURL = process.env.SWITCHBOARD_BASE_URL;
const apiKey = process.env.SWITCHBOARD_API_KEY;
const models = { same: process.env.SAME_MODEL, cross: process.env.CROSS_MODEL };
if (!baseURL || !apiKey || !models.same || !models.cross) {
  console.error('FAIL setup: set SWITCHBOARD_BASE_URL, SWITCHBOARD_API_KEY, SAME_MODEL and CROSS_MODEL');
  process.exit(2);
}
const host = new URL(baseURL).hostname;
if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') {
  console.error(`FAIL setup: SWITCHBOARD_BASE_URL must be a loopback address, got ${baseURL}`);
  process.exit(2);
}

const client = new Anthropic({ baseURL, apiKey, maxRetries: 0, timeout: 10_000 });
const TEXT = Array.from({ length: 8 }, (_, i) => `chunk ${i} `).join(''); // the mock's answer
const messages = [{ role: 'user', content: 'Say hello.' }];
const weatherTool = {
  name: 'get_weather',
  description: 'Get the current weather in a location.',
  input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
};

for (const [how, model] of Object.entries(models)) {
  check(`${how}: messages.create`, async () => {
    const msg = await client.messages.create({ model, max_tokens: 100, messages });
    eq(msg.type, 'message', 'type');
    eq(msg.role, 'assistant', 'role');
    eq(msg.content.length, 1, `content blocks ${fmt(msg.content)}`);
    eq(msg.content[0].type, 'text', 'block type');
    eq(msg.content[0].text, TEXT, 'text');
    eq(msg.stop_reason, 'end_turn', 'stop_reason');
    assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0, `usage ${fmt(msg.usage)}`);
    return `usage ${fmt(msg.usage)}`;
  });

  check(`${how}: messages.stream with text events and finalMessage`, async () => {
    const stream = client.messages.stream({ model, max_tokens: 100, messages });
    let text = '';
    stream.on('text', (t) => {
      text += t;
    });
    const msg = await stream.finalMessage();
    eq(text, TEXT, 'streamed text');
    eq(msg.content[0].text, TEXT, 'final message text');
    eq(msg.stop_reason, 'end_turn', 'stop_reason');
    assert.ok(msg.usage.output_tokens > 0, `usage ${fmt(msg.usage)}`);
  });

  check(`${how}: tool use, streamed`, async () => {
    const stream = client.messages.stream({
      model: `${model}+tools=5`,
      max_tokens: 100,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weatherTool],
    });
    const msg = await stream.finalMessage();
    eq(msg.stop_reason, 'tool_use', 'stop_reason');
    const uses = msg.content.filter((b) => b.type === 'tool_use');
    eq(uses.length, 1, `tool_use blocks in ${fmt(msg.content)}`);
    eq(uses[0].name, 'get_weather', 'tool name');
    eq(uses[0].input.location, 'Paris, France', `tool input ${fmt(uses[0].input)}`);
    assert.ok(uses[0].id, 'tool_use id');
  });

  check(`${how}: errors are SDK classes`, async () => {
    const bad = new Anthropic({ baseURL, apiKey: 'sk-sb-wrong', maxRetries: 0 });
    await expectError(() => bad.messages.create({ model, max_tokens: 10, messages }), Anthropic.AuthenticationError, 401, 'bad key');
    await expectError(() => client.messages.create({ model: 'nope', max_tokens: 10, messages }), Anthropic.NotFoundError, 404, 'model nope');
  });
}

check('same: countTokens', async () => {
  const n = await client.messages.countTokens({ model: models.same, messages });
  assert.ok(n.input_tokens > 0, `input_tokens ${fmt(n)}`);
});

check('models.list and models.retrieve: the Models API shape', async () => {
  const listed = [];
  for await (const m of client.models.list()) listed.push(m);
  const ids = listed.map((m) => m.id);
  const claude = listed.find((m) => m.id === 'claude-mock');
  assert.ok(claude, `claude-mock not listed: ${JSON.stringify(ids)}`);
  eq(claude.type, 'model', 'claude-mock type');
  eq(typeof claude.display_name, 'string', 'claude-mock display_name');
  assert.ok(!Number.isNaN(Date.parse(claude.created_at)), `created_at ${claude.created_at}`);
  const one = await client.models.retrieve('claude-mock');
  eq(one.id, 'claude-mock', 'retrieve id');
  eq(one.type, 'model', 'retrieve type');
  return `${ids.length} models: ${ids.join(', ')}`;
});

await run();
