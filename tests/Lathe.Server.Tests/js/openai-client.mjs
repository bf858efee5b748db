// Drives a running Lathe server with the official `openai` npm client, unmodified: chat (whole and streamed), n > 1,
// logprobs, legacy completions, embeddings (the client asks for base64 and decodes it), models, and the errors the
// client raises. Prints one JSON summary on stdout, which OpenAiNpmClientTests checks against the server's raw answers.
// Environment: OPENAI_MODULE (file URL of the package's index.mjs), LATHE_BASE_URL (…/v1), LATHE_API_KEY, LATHE_MODEL.
const { default: OpenAI } = await import(process.env.OPENAI_MODULE);

const client = new OpenAI({ baseURL: process.env.LATHE_BASE_URL, apiKey: process.env.LATHE_API_KEY, maxRetries: 0, timeout: 60_000 });
const model = process.env.LATHE_MODEL;
const noStops = JSON.parse(process.env.LATHE_NO_STOPS);
const messages = [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hello there.' }];
const summary = {};

const chat = await client.chat.completions.create({ model, messages, max_tokens: 6, seed: 7, logprobs: true, top_logprobs: 3, logit_bias: noStops });
summary.chat = {
  id: chat.id, object: chat.object, model: chat.model, content: chat.choices[0].message.content, role: chat.choices[0].message.role,
  finish: chat.choices[0].finish_reason, usage: chat.usage,
  logprobs: chat.choices[0].logprobs.content.map(e => ({ token: e.token, logprob: e.logprob, bytes: e.bytes, top: e.top_logprobs.length })),
};

const stream = await client.chat.completions.create({ model, messages, max_tokens: 6, seed: 7, logit_bias: noStops, stream: true, stream_options: { include_usage: true } });
let text = '', finish = null, usage = null, chunks = 0, role = null;
for await (const chunk of stream) {
  chunks++;
  for (const c of chunk.choices) {
    if (c.delta.role) role = c.delta.role;
    text += c.delta.content ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
  if (chunk.usage) usage = chunk.usage;
}
summary.stream = { text, finish, usage, chunks, role };

const many = await client.chat.completions.create({ model, messages, n: 3, max_tokens: 4, seed: 1, logit_bias: noStops });
summary.n = many.choices.map(c => ({ index: c.index, content: c.message.content, finish: c.finish_reason }));

const manyStream = await client.chat.completions.create({ model, messages, n: 2, max_tokens: 4, seed: 1, logit_bias: noStops, stream: true });
const byIndex = ['', ''];
for await (const chunk of manyStream) for (const c of chunk.choices) byIndex[c.index] += c.delta.content ?? '';
summary.nStream = byIndex;

const completion = await client.completions.create({ model, prompt: 'the whale', max_tokens: 4, seed: 3, logprobs: 2, logit_bias: noStops });
summary.completion = { text: completion.choices[0].text, tokens: completion.choices[0].logprobs.tokens.length, usage: completion.usage };

const emb = await client.embeddings.create({ model, input: ['the whale', 'the sea'] });
summary.embeddings = { count: emb.data.length, first: Array.from(emb.data[0].embedding), second: Array.from(emb.data[1].embedding), usage: emb.usage };

// Structured output: a json_schema reply, parsed by the client's own helper (chat.completions.parse).
const schema = { type: 'object', properties: { kind: { type: 'string', enum: ['whale', 'ship'] }, count: { type: 'integer' } }, required: ['kind', 'count'], additionalProperties: false };
const structured = await client.chat.completions.parse({ model, messages, seed: 4, temperature: 1, max_tokens: 400,
  response_format: { type: 'json_schema', json_schema: { name: 'thing', schema, strict: true } } });
summary.jsonSchema = { content: structured.choices[0].message.content, parsed: structured.choices[0].message.parsed, finish: structured.choices[0].finish_reason };

// Tools: a named function call, whole and streamed (the client assembles streamed tool_call deltas itself).
const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string', enum: ['Paris', 'Oslo'] } }, required: ['city'], additionalProperties: false } } }];
const toolChoice = { type: 'function', function: { name: 'get_weather' } };
const called = await client.chat.completions.create({ model, messages, tools, tool_choice: toolChoice, seed: 2, temperature: 1, max_tokens: 400 });
summary.tools = { finish: called.choices[0].finish_reason, content: called.choices[0].message.content, calls: called.choices[0].message.tool_calls };
const toolStream = client.chat.completions.stream({ model, messages, tools, tool_choice: toolChoice, seed: 2, temperature: 1, max_tokens: 400 });
const final = await toolStream.finalChatCompletion();
summary.toolsStream = { finish: final.choices[0].finish_reason, calls: final.choices[0].message.tool_calls };

const ids = [];
for await (const m of client.models.list()) ids.push(m.id);
summary.models = ids;
summary.retrieved = (await client.models.retrieve(model)).id;

async function failure(call) {
  try { await call(); return null; }
  catch (e) { return { name: e.constructor.name, status: e.status, code: e.code ?? null, param: e.param ?? null, type: e.type ?? null }; }
}
summary.notFound = await failure(() => client.chat.completions.create({ model: 'no-such-model', messages }));
summary.badRequest = await failure(() => client.chat.completions.create({ model, messages, temperature: 5 }));
summary.unauthorized = await failure(() => new OpenAI({ baseURL: process.env.LATHE_BASE_URL, apiKey: 'wrong', maxRetries: 0 }).models.list());

console.log(JSON.stringify(summary));
