// What needs no relay: splitting long text into sendtext parts, the attachment checks, and the reconnect bound
// against a local server that accepts every connection and closes it at once (the "reconnect loop" of issue 15).

import assert from "node:assert/strict";
import { test } from "node:test";

import { WebSocketServer, WebSocket as WsWebSocket } from "ws";

import {
  FRAME_BUDGET_BYTES,
  FRAME_LIMIT_BYTES,
  MAX_PARTS,
  RelayClient,
  checkAttachment,
  mergeTurns,
  messageBytes,
  splitSendtext,
} from "../relay-client.js";

const base = { action: "sendtext", requestId: "r-split", model: "claude", conversationId: "c1", system: "be brief" };

function joined(parts) {
  return parts.map((p) => p.text).join("");
}

test("a message that fits one frame is sent as it is, without part fields", () => {
  const message = { ...base, text: "short" };
  assert.deepEqual(splitSendtext(message), [message]);
});

for (const [name, unit] of [
  ["CJK", "日本語の文章です。"],
  ["emoji (surrogate pairs)", "😀👍🏽🇯🇵"],
  ["quotes, backslashes, newlines and control characters (JSON escaping)", '"\\\n\t\u0001'],
  ["mixed", "漢字 emoji 😀 \"quoted\" \\ text\n"],
]) {
  test(`long ${name} text: parts under the frame limit, every field repeated, joined back exactly`, () => {
    let text = "";
    while (text.length < 200_000) text += unit;
    const message = { ...base, text };
    const parts = splitSendtext(message);
    assert.ok(parts.length > 1 && parts.length <= MAX_PARTS, `${parts.length} parts`);
    assert.equal(joined(parts), text);
    parts.forEach((part, index) => {
      const bytes = Buffer.byteLength(JSON.stringify(part), "utf8");
      assert.ok(bytes <= FRAME_BUDGET_BYTES && bytes < FRAME_LIMIT_BYTES, `part ${index}: ${bytes} bytes`);
      assert.equal(bytes, messageBytes(part));
      assert.deepEqual({ ...part, text: undefined, part: undefined, parts: undefined }, { ...base, text: undefined, part: undefined, parts: undefined });
      assert.equal(part.part, index);
      assert.equal(part.parts, parts.length);
      // Never half a surrogate pair at either end of a slice.
      assert.doesNotMatch(part.text, /^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/);
    });
    // Parts are not wastefully small: all but the last fill most of the budget.
    for (const part of parts.slice(0, -1)) assert.ok(messageBytes(part) > FRAME_BUDGET_BYTES - 64);
  });
}

test("text that needs more than 64 parts, or fields that leave no room, is refused as message_too_big", () => {
  assert.throws(() => splitSendtext({ ...base, text: "x".repeat(FRAME_BUDGET_BYTES * (MAX_PARTS + 1)) }), {
    name: "RelayError",
    code: "message_too_big",
    message: /parts/,
  });
  assert.throws(() => splitSendtext({ ...base, system: "s".repeat(FRAME_BUDGET_BYTES), text: "x" }), {
    code: "message_too_big",
    message: /fields other than text/,
  });
});

test("an ask too long for any split fails with message_too_big and sends nothing", async () => {
  const relay = new RelayClient({ url: "ws://127.0.0.1:9/dev", WebSocket: WsWebSocket, reconnect: { maxAttempts: 1 } });
  const answer = relay.ask({ text: "x".repeat(FRAME_BUDGET_BYTES * (MAX_PARTS + 1)) });
  await assert.rejects(answer.done, { code: "message_too_big" });
  assert.equal(relay.state, "idle", "no connection was opened for it");
  relay.close();
});

test("attachments: wrong type, too big, empty and a kind the model does not take are refused before upload", () => {
  assert.equal(checkAttachment({ name: "a.png", type: "image/png", size: 2048 }), null);
  assert.equal(checkAttachment({ name: "notes.md", type: "", size: 10 }), null, "the extension decides");
  assert.equal(checkAttachment({ name: "a.exe", type: "application/x-msdownload", size: 10 }).reason, "wrong_type");
  const big = checkAttachment({ name: "big.jpg", type: "image/jpeg", size: 4_000_000 });
  assert.equal(big.reason, "too_big");
  assert.match(big.message, /big\.jpg is 4\.00 MB; images may be at most 3\.75 MB/);
  assert.equal(checkAttachment({ name: "doc.pdf", type: "application/pdf", size: 4_600_000 }).reason, "too_big");
  assert.equal(checkAttachment({ name: "e.txt", type: "text/plain", size: 0 }).reason, "empty");
  assert.equal(checkAttachment({ name: "a.pdf", type: "application/pdf", size: 9 }, { kinds: ["image"] }).reason, "wrong_type");
});

test("attach() refuses a file of the wrong type without opening a connection", async () => {
  const relay = new RelayClient({ url: "ws://127.0.0.1:9/dev", WebSocket: WsWebSocket });
  await assert.rejects(relay.attach(new Blob(["MZ"], { type: "application/x-msdownload" }), { fileName: "a.exe" }), {
    code: "bad_request",
    field: "attachments",
    reason: "wrong_type",
  });
  assert.equal(relay.state, "idle");
  relay.close();
});

test("a server that accepts and closes every connection: bounded attempts, then failed — no reconnect loop", async () => {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise((resolve) => server.once("listening", resolve));
  let connections = 0;
  server.on("connection", (socket) => {
    connections += 1;
    socket.close(1011, "go away");
  });
  const relay = new RelayClient({
    url: `ws://127.0.0.1:${server.address().port}/dev`,
    WebSocket: WsWebSocket,
    reconnect: { baseDelayMs: 5, maxDelayMs: 20, maxAttempts: 4 },
  });
  const states = [];
  relay.on("state", ({ state }) => states.push(state));
  const answer = relay.ask({ text: "hello?" });
  const error = await answer.done.then(
    () => assert.fail("should fail"),
    (e) => e,
  );
  assert.equal(error.code, "connection_failed");
  assert.match(error.message, /after 4 attempts \(last: the connection closed \(code 1011\)\)/);
  assert.equal(relay.state, "failed");
  assert.equal(connections, 4, "one connection per attempt, no more");
  assert.equal(states.filter((s) => s === "open").length, 4);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(connections, 4, "nothing after giving up");
  relay.close();
  server.close();
});

test("history: a v2 turn split over entries is joined — text and reasoning concatenated, calls and results in order", () => {
  const merged = mergeTurns([
    { turn: 1, role: "user", text: "What is 2*7?" },
    { turn: 2, role: "assistant", text: "Let me ", reasoning: "The user " },
    { turn: 2, role: "assistant", text: "calculate.", reasoning: "wants 14.", toolUses: [{ toolUseId: "t1", name: "calc", input: {} }] },
    { turn: 2, role: "assistant", text: "", toolUses: [{ toolUseId: "t2", name: "calc", input: {} }] },
    { turn: 3, role: "user", text: "", toolResults: [{ toolUseId: "t1", content: 14 }] },
    { turn: 3, role: "user", text: "", toolResults: [{ toolUseId: "t2", content: 14 }] },
  ]);
  assert.equal(merged.length, 3);
  assert.equal(merged[1].text, "Let me calculate.");
  assert.equal(merged[1].reasoning, "The user wants 14.");
  assert.deepEqual(merged[1].toolUses.map((c) => c.toolUseId), ["t1", "t2"]);
  assert.deepEqual(merged[2].toolResults.map((r) => r.toolUseId), ["t1", "t2"]);
});
