// openai_responses_sdk.mjs drives the gateway's /v1/responses (what Codex
// CLI speaks) with the official `openai` npm package, for each model in
// MODELS: a Responses-format provider (pass-through) and providers of the
// other formats (translated). Answers, the stream helper with its typed
// events and finalResponse, tool calls streamed and not, a tool result
// sent back, and error classes. proxy/sdk_test.go runs it; by hand:
//
//	SWITCHBOARD_BASE_URL=http://127.0.0.1:PORT/v1 SWITCHBOARD_API_KEY=sk-... \
//	MODELS=resp/resp-model,anth/claude-mock node openai_responses_sdk.mjs

import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { check, deepEq, eq, expectError, fmt, run } from './harness.mjs';

const baseURL = process.env.SWITCHBOARD_BASE_URL;
const apiKey = process.env.SWITCHBOARD_API_KEY;
const models = (process.env.MODELS ?? '').split(',').filter(Boolean);
if (!baseURL || !apiKey || models.length === 0) {
  console.error('FAIL setup: set SWITCHBOARD_BASE_URL, SWITCHBOARD_API_KEY and MODELS');
  process.exit(2);
}
if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(baseURL).hostname)) {
  console.error(`FAIL setup: SWITCHBOARD_BASE_URL must be a loopback address, got ${baseURL}`);
  process.exit(2);
}

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 10_000 });
const TEXT = Array.from({ length: 8 }, (_, i) => `chunk ${i} `).join(''); // the mock's answer
const tools = [{
  type: 'function', name: 'get_weather', strict: false,
  parameters: { type: 'object', properties: { location: { type: 'string' } } },
}];
const ARGS = { location: 'Paris, France', unit: 'celsius' }; // the mock's tool call

for (const model of models) {
  check(`${model}: responses.create`, async () => {
    const r = await client.responses.create({ model, input: 'Say hello.', max_output_tokens: 100 });
    eq(r.object, 'response', 'object');
    eq(r.status, 'completed', 'status');
    eq(r.output_text, TEXT, 'output_text');
    assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0, `usage ${fmt(r.usage)}`);
  });

  check(`${model}: stream helper, typed events, finalResponse`, async () => {
    const stream = client.responses.stream({
      model, max_output_tokens: 100,
      instructions: 'Be brief.',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'Say hello.' }] }],
    });
    let text = '';
    const types = [];
    const seqs = [];
    for await (const ev of stream) {
      types.push(ev.type);
      seqs.push(ev.sequence_number);
      if (ev.type === 'response.output_text.delta') text += ev.delta;
    }
    const final = await stream.finalResponse();
    eq(text, TEXT, 'streamed text');
    eq(final.output_text, TEXT, 'finalResponse output_text');
    eq(types[0], 'response.created', 'first event');
    eq(types.at(-1), 'response.completed', 'last event');
    for (const t of ['response.in_progress', 'response.output_item.added', 'response.content_part.added',
      'response.output_text.done', 'response.content_part.done', 'response.output_item.done']) {
      assert.ok(types.includes(t), `no ${t} in ${fmt(types)}`);
    }
    deepEq(seqs, seqs.map((_, i) => i), 'sequence numbers count from 0');
    assert.ok(final.usage.output_tokens > 0, `usage ${fmt(final.usage)}`);
  });

  check(`${model}: tool call, not streamed`, async () => {
    const r = await client.responses.create({ model: `${model}+tools=2`, input: 'Weather in Paris?', tools });
    const calls = r.output.filter((o) => o.type === 'function_call');
    eq(calls.length, 1, 'function calls');
    eq(calls[0].name, 'get_weather', 'name');
    deepEq(JSON.parse(calls[0].arguments), ARGS, 'arguments');
    assert.ok(calls[0].call_id, 'call_id');
  });

  check(`${model}: tool call streamed, arguments whole, result sent back`, async () => {
    const stream = client.responses.stream({ model: `${model}+tools=2`, input: 'Weather in Paris?', tools });
    let args = '';
    let done;
    for await (const ev of stream) {
      if (ev.type === 'response.function_call_arguments.delta') args += ev.delta;
      if (ev.type === 'response.function_call_arguments.done') done = ev.arguments;
    }
    const final = await stream.finalResponse();
    const call = final.output.find((o) => o.type === 'function_call');
    deepEq(JSON.parse(args), ARGS, 'argument deltas');
    eq(done, args, 'arguments.done');
    eq(call?.arguments, args, 'final call arguments');
    // The next turn: the call and its output go back, as Codex sends them.
    const r = await client.responses.create({
      model, tools,
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: '{"temp_c":18}' },
      ],
    });
    eq(r.output_text, TEXT, 'answer after the tool result');
  });

  check(`${model}: errors`, async () => {
    await expectError(() => client.responses.create({ model: `${model}+status=400`, input: 'x' }),
      OpenAI.BadRequestError, 400, 'provider 400');
    await expectError(() => client.responses.create({ model: 'no-such-model', input: 'x' }),
      OpenAI.NotFoundError, 404, 'unknown model');
  });
}

await run();
