// The official `openai` npm package against the relay's OpenAI-compatible HTTP API, as a Node user runs it.
// tests/e2e/clients/test_openai_js.py starts the relay (localgw), asks RELAY_QUESTION over the WebSocket and runs
// this file with:
//   RELAY_OPENAI_BASE_URL    http://127.0.0.1:PORT/{stage}/v1
//   RELAY_TOKEN              a dev-issuer JWT of a fresh user
//   RELAY_QUESTION           a question with simulator directives
//   RELAY_WEBSOCKET_ANSWER   the text the WebSocket channel answered to it
//   RELAY_WEBSOCKET_USAGE    the usage of that answer's `done` frame (JSON)
//   RELAY_MODEL_ALIASES      the catalogue's aliases, in order (JSON)
import assert from "node:assert/strict";
import { test } from "node:test";

import OpenAI from "openai";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run through tests/e2e/clients/test_openai_js.py)`);
  return value;
};

const baseURL = env("RELAY_OPENAI_BASE_URL");
const question = env("RELAY_QUESTION");
const websocketAnswer = env("RELAY_WEBSOCKET_ANSWER");
const websocketUsage = JSON.parse(env("RELAY_WEBSOCKET_USAGE"));
const aliases = JSON.parse(env("RELAY_MODEL_ALIASES"));

// maxRetries 0: the SDK retries 429 and 5xx by default, which would hide what the relay answered.
const relay = (apiKey = env("RELAY_TOKEN")) => new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });
const userSays = (text) => [{ role: "user", content: text }];

const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

// Runs `call` and returns what it threw, failing when it did not throw.
async function refusal(call) {
  try {
    await call();
  } catch (error) {
    return error;
  }
  assert.fail("the relay accepted the request");
}

test("streamed: for await over the chunks gives the WebSocket's answer", async () => {
  const stream = await relay().chat.completions.create({
    model: "claude",
    messages: userSays(question),
    stream: true,
  });
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
  }
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  assert.equal(chunks[0].object, "chat.completion.chunk");
  const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
  assert.equal(text, websocketAnswer);
  assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
  assert.ok(chunks.every((chunk) => chunk.id === chunks[0].id && chunk.model === "claude"));
});

test("not streamed: one chat.completion with the WebSocket's answer and usage", async () => {
  const completion = await relay().chat.completions.create({ model: "claude", messages: userSays(question) });
  assert.equal(completion.object, "chat.completion");
  assert.equal(completion.model, "claude");
  assert.equal(completion.choices[0].message.role, "assistant");
  assert.equal(completion.choices[0].message.content, websocketAnswer);
  assert.equal(completion.choices[0].finish_reason, "stop");
  assert.equal(completion.usage.completion_tokens, websocketUsage.outputTokens);
});

test("include_usage: a last chunk without choices carries the usage", async () => {
  const stream = await relay().chat.completions.create({
    model: "claude",
    messages: userSays(question),
    stream: true,
    stream_options: { include_usage: true },
  });
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push(chunk);
  }
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, websocketUsage.outputTokens);
  assert.equal(last.usage.prompt_tokens, websocketUsage.inputTokens);
  assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens);
  assert.ok(chunks.slice(0, -1).every((chunk) => chunk.usage == null));
  assert.equal(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join(""), websocketAnswer);
});

test("a tool call round trip: streamed and whole calls, then the result answered", async () => {
  const client = relay();
  const messages = userSays("Weather in Paris? [[sim tool=get_weather tokens=5 rate=2000 ttft=0]]");
  const stream = await client.chat.completions.create({ model: "claude", messages, tools: [WEATHER], stream: true });
  const streamedCalls = [];
  let finishReason = null;
  for await (const chunk of stream) {
    streamedCalls.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
    finishReason = chunk.choices[0]?.finish_reason ?? finishReason;
  }
  assert.equal(finishReason, "tool_calls");

  const whole = await client.chat.completions.create({ model: "claude", messages, tools: [WEATHER] });
  assert.equal(whole.choices[0].finish_reason, "tool_calls");
  const message = whole.choices[0].message;
  assert.equal(message.tool_calls.length, 1);
  const [call] = message.tool_calls;
  assert.equal(call.type, "function");
  assert.equal(call.function.name, "get_weather");
  assert.equal(typeof JSON.parse(call.function.arguments).city, "string");
  // The streamed call is the same call, whole in one entry.
  assert.deepEqual(
    streamedCalls.map((c) => [c.index, c.id, c.function.name, c.function.arguments]),
    [[0, call.id, "get_weather", call.function.arguments]],
  );

  // The client runs the tool and sends the history back with its result, as OpenAI's API has it.
  const history = [...messages, message, { role: "tool", tool_call_id: call.id, content: "sunny, 21 °C" }];
  const after = await client.chat.completions.create({ model: "claude", messages: history, tools: [WEATHER] });
  assert.equal(after.choices[0].finish_reason, "stop");
  assert.ok(
    after.choices[0].message.content.startsWith("Turn 2. Tool get_weather returned: sunny, 21 °C"),
    after.choices[0].message.content,
  );
});

test("models.list() names the catalogue's aliases", async () => {
  const ids = [];
  for await (const model of relay().models.list()) {
    ids.push(model.id);
  }
  assert.deepEqual(ids, aliases);
});

test("a refused token is an AuthenticationError (401)", async () => {
  const error = await refusal(() =>
    relay("not-a-jwt").chat.completions.create({ model: "claude", messages: userSays("hi") }),
  );
  assert.ok(error instanceof OpenAI.AuthenticationError, String(error));
  assert.equal(error.status, 401);
  assert.equal(error.code, "invalid_api_key");
  assert.equal(error.type, "authentication_error");
});

test("an unknown model is a NotFoundError (404) naming the model param", async () => {
  const error = await refusal(() =>
    relay().chat.completions.create({ model: "gpt-9", messages: userSays("hi"), stream: true }),
  );
  assert.ok(error instanceof OpenAI.NotFoundError, String(error));
  assert.equal(error.status, 404);
  assert.equal(error.code, "model_not_found");
  assert.equal(error.param, "model");
});

for (const [fields, param] of [
  [{ temperature: 1.5 }, "temperature"],
  [{ max_completion_tokens: 10 ** 6 }, "max_completion_tokens"],
  [{ top_k: 3 }, "top_k"],
  [{ messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] }, "messages[0].content[0].type"],
]) {
  test(`bad input is a BadRequestError (400) naming ${param}`, async () => {
    const error = await refusal(() =>
      relay().chat.completions.create({ model: "claude", messages: userSays("hi"), ...fields }),
    );
    assert.ok(error instanceof OpenAI.BadRequestError, String(error));
    assert.equal(error.status, 400);
    assert.equal(error.type, "invalid_request_error");
    assert.equal(error.param, param);
    assert.match(error.message, new RegExp(param.replace(/[[\].]/g, "\\$&")));
  });
}

test("a failure after the stream began is an APIError thrown by the for await, after the text", async () => {
  const stream = await relay().chat.completions.create({
    model: "claude",
    messages: userSays("fail midway [[sim fail_after=3 rate=2000 ttft=0]]"),
    stream: true,
  });
  const received = [];
  const error = await refusal(async () => {
    for await (const chunk of stream) {
      received.push(chunk.choices[0]?.delta.content ?? "");
    }
  });
  assert.ok(error instanceof OpenAI.APIError, String(error));
  assert.equal(error.code, "model_error");
  assert.equal(error.type, "server_error");
  assert.ok(received.join("").length > 0, "text arrived before the error");
});

// test_openai_js.py then finds the simulator's record of this question: closed by the client, most of it unsent.
test("leaving the for await early closes the stream", async () => {
  const stream = await relay().chat.completions.create({
    model: "claude",
    messages: userSays("js-leaves [[sim tokens=3000 rate=200 ttft=0]]"),
    stream: true,
  });
  for await (const chunk of stream) {
    assert.equal(chunk.choices[0].delta.role, "assistant");
    break; // the SDK aborts its request: the connection closes mid-answer
  }
});
