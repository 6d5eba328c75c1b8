// Protocol v2 and long input through a real localgw: text split into parts, tool calls and their results,
// reasoning, attachments. These need the relay's side of issues 14 and 15 (parts, attach, tools, reasoning); on a
// relay without it they fail with the relay's `bad_request` for the unknown field — they are not skipped.

import assert from "node:assert/strict";
import { test } from "node:test";

import { WebSocket as WsWebSocket } from "ws";

import { FRAME_LIMIT_BYTES, RelayError } from "../relay-client.js";
import { closingClients, collect } from "./support.js";

const FAST = "[[sim rate=100000 ttft=0]]";
const client = closingClients();

/** A `ws` WebSocket that remembers the size of every frame it sends and the close code it got. */
function recordingWebSocket(record) {
  return class Recording extends WsWebSocket {
    constructor(...args) {
      super(...args);
      this.on("close", (code) => record.closes.push(code));
    }

    send(data, ...rest) {
      record.sent.push(Buffer.byteLength(data, "utf8"));
      return super.send(data, ...rest);
    }
  };
}

test("200,000 characters of CJK and emoji: parts under 32 KB, no 1009, one answer that saw every word", async () => {
  const record = { sent: [], closes: [] };
  const { relay } = await client({ WebSocket: recordingWebSocket(record) });
  const words = [];
  let length = 0;
  for (let i = 0; length < 200_000 - 40; i += 1) {
    const word = i % 3 === 0 ? `日本語${i}😀` : i % 3 === 1 ? `中文🇯🇵${i}` : `emoji👍🏽${i}`;
    words.push(word);
    length += word.length + 1;
  }
  const text = `${words.join(" ")} ${FAST}`;
  assert.ok(text.length <= 200_000, `${text.length} characters`);
  const frames = [];
  relay.on("frame", (frame) => frames.push(frame));
  const answer = relay.ask({ text, maxTokens: 30 });
  const result = await answer.done.catch((error) => error);
  // The client's half holds whatever the relay does: every frame under the limit, and the connection never closed.
  assert.ok(record.sent.length > 1, "sent in parts");
  assert.ok(Math.max(...record.sent) < FRAME_LIMIT_BYTES, `largest frame ${Math.max(...record.sent)} bytes`);
  assert.deepEqual(record.closes, []);
  assert.ok(!(result instanceof RelayError), `the relay refused the parts: ${result.code} ${result.message}`);
  assert.equal(frames.filter((f) => f.type === "start" && f.requestId === answer.requestId).length, 1, "one answer");
  assert.equal(result.usage.inputTokens, words.length, "the model received every word");
  assert.ok(result.text.startsWith(`Turn 1. You said: ${words.slice(0, 10).join(" ")}`), result.text.slice(0, 200));
});

const CLOCK = {
  name: "clock",
  description: "The current time in a time zone",
  inputSchema: { type: "object", properties: { zone: { type: "string" } }, required: ["zone"] },
};

test("a tool round trip: toolUse event, stopReason tool_use, the result reaches the model", async () => {
  const { relay } = await client();
  const models = await relay.models();
  const withTools = models.filter((m) => m.tools === true);
  assert.ok(withTools.length > 0, `no model says tools: true in ${JSON.stringify(models)}`);
  for (const model of withTools) {
    const first = relay.ask({ text: `What time is it? [[sim tool=clock]] ${FAST}`, model: model.id, tools: [CLOCK] });
    const events = await collect(first);
    const calls = events.filter((e) => e.type === "toolUse");
    assert.equal(calls.length, 1, `${model.id}: ${JSON.stringify(events)}`);
    assert.equal(calls[0].name, "clock");
    assert.equal(typeof calls[0].input.zone, "string");
    const result = await first.done;
    assert.equal(result.stopReason, "tool_use");
    assert.deepEqual(result.toolUses, [{ toolUseId: calls[0].toolUseId, name: "clock", input: calls[0].input }]);
    const second = relay.ask({
      model: model.id,
      conversationId: result.conversationId,
      tools: [CLOCK],
      toolResults: [{ toolUseId: calls[0].toolUseId, content: "12:34", status: "success" }],
    });
    assert.match(await second.text(), /^Turn \d+\. Tool clock returned: 12:34/, model.id);
  }
});

test("reasoning streams as reasoning events before the text, never inside it", async () => {
  const { relay } = await client();
  const models = await relay.models();
  const thinker = models.find((m) => m.reasoning === true);
  assert.ok(thinker, `no model says reasoning: true in ${JSON.stringify(models)}`);
  const answer = relay.ask({ text: `Think first [[sim think=12]] ${FAST}`, model: thinker.id, reasoning: true });
  const events = await collect(answer);
  const kinds = events.map((e) => e.type);
  const firstText = kinds.indexOf("text");
  assert.ok(kinds.lastIndexOf("reasoning") >= 0 && kinds.lastIndexOf("reasoning") < firstText, kinds.join(","));
  const result = await answer.done;
  assert.equal(result.reasoning.split(/\s+/).filter(Boolean).length, 12);
  assert.match(result.text, /^Turn 1\. You said: Think first/);
});

test("reasoning asked of a model that cannot: bad_request naming reasoning", async () => {
  const { relay } = await client();
  const models = await relay.models();
  const plain = models.find((m) => m.reasoning === false);
  assert.ok(plain, `no model says reasoning: false in ${JSON.stringify(models)}`);
  await assert.rejects(relay.ask({ text: "hi", model: plain.id, reasoning: true }).done, {
    code: "bad_request",
    field: "reasoning",
  });
});

function png(size) {
  const bytes = new Uint8Array(size);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return new Blob([bytes], { type: "image/png" });
}

test("attach: presigned POST upload, then the model receives the image", async () => {
  const { relay } = await client();
  const models = await relay.models();
  const seeing = models.find((m) => (m.attachments ?? []).includes("image"));
  assert.ok(seeing, `no model takes images in ${JSON.stringify(models)}`);
  const file = await relay.attach(png(2048), { fileName: "dot.png" });
  assert.match(file.attachmentId, /\S/);
  assert.equal(file.size, 2048);
  const answer = relay.ask({ text: `What is this? ${FAST}`, model: seeing.id, attachments: [file.attachmentId] });
  assert.match(await answer.text(), /^\[image png 2048 bytes\]/);
});

test("attach: another user's attachmentId is forbidden", async () => {
  const { relay: owner } = await client();
  const { relay: other } = await client();
  const models = await owner.models();
  const seeing = models.find((m) => (m.attachments ?? []).includes("image"));
  assert.ok(seeing, "no model takes images");
  const file = await owner.attach(png(1024), { fileName: "mine.png" });
  await assert.rejects(other.ask({ text: "peek", model: seeing.id, attachments: [file.attachmentId] }).done, {
    code: "forbidden",
  });
});
