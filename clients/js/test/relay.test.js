// @ws-llm-relay/client against a real localgw (authorizer, handlers, DynamoDB, simulator). Run by
// tests/e2e/clients/test_js.py, twice: with the `ws` constructor passed in (Node 20) and as globalThis.WebSocket (Node 22).

import assert from "node:assert/strict";
import { test } from "node:test";

import { WebSocket as WsWebSocket } from "ws";

import { AnswerState, RelayClient, RelayError } from "../relay-client.js";
import { MODE, WS_URL, closingClients, collect, killConnections, mint, plannedText, waitFor } from "./support.js";

const FAST = "[[sim rate=5000 ttft=0]]";
const client = closingClients();

test(`the WebSocket constructor: ${MODE === "global" ? "the global one is used" : "passed in, none global"}`, () => {
  if (MODE === "global") {
    assert.equal(typeof globalThis.WebSocket, "function");
    new RelayClient({ url: WS_URL }).close();
  } else {
    assert.equal(globalThis.WebSocket, undefined, "Node 20 has no global WebSocket");
    assert.throws(() => new RelayClient({ url: WS_URL }), /pass one/);
  }
});

test("a full answer: start, text in order, done with usage; text() and done agree", async () => {
  const { relay } = await client({ user: "alice" });
  const prompt = `Hello from Node [[sim tokens=80 rate=400 ttft=50]]`;
  const answer = relay.ask({ text: prompt, maxTokens: 200, temperature: 0.5, system: "be brief" });
  const events = await collect(answer);
  assert.equal(events[0].type, "start");
  assert.equal(events[0].requestId, answer.requestId);
  assert.equal(events[0].model, "claude");
  assert.ok(events[0].conversationId);
  const texts = events.filter((e) => e.type === "text");
  assert.ok(texts.length >= 2, "several text events");
  const last = events.at(-1);
  assert.equal(last.type, "done");
  assert.equal(last.stopReason, "end_turn");
  assert.equal(last.usage.outputTokens, 80);
  assert.equal(typeof last.metrics.firstTokenMs, "number");
  const expected = await plannedText(prompt);
  assert.equal(texts.map((e) => e.text).join(""), expected);
  assert.equal(await answer.text(), expected);
  const result = await answer.done;
  assert.equal(result.stopReason, "end_turn");
  assert.equal(result.conversationId, events[0].conversationId);
  // Iterating again replays every event.
  assert.deepEqual(await collect(answer), events);
});

test("concurrent answers are routed by requestId; a conversation continues", async () => {
  const { relay } = await client();
  const prompts = [`first ${FAST} [[sim tokens=40]]`, `second ${FAST} [[sim tokens=30]]`];
  const answers = prompts.map((text) => relay.ask({ text }));
  const texts = await Promise.all(answers.map((a) => a.text()));
  assert.deepEqual(texts, await Promise.all(prompts.map(plannedText)));
  const followUp = relay.ask({ text: `and again ${FAST}`, conversationId: answers[0].conversationId });
  assert.match(await followUp.text(), /^Turn 2\. You said: and again/);
  assert.equal(followUp.conversationId, answers[0].conversationId);
});

async function survives(kill) {
  let tokenCalls = 0;
  const { relay, user } = await client({
    token: async () => {
      tokenCalls += 1;
      return mint(currentUser);
    },
  });
  const currentUser = `js-drop-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const states = [];
  relay.on("state", ({ state }) => states.push(state));
  const prompt = "Survive a drop [[sim tokens=200 rate=100 ttft=0]]";
  const answer = relay.ask({ text: prompt });
  await waitFor(() => answer.lastSeq >= 3, { what: "a few frames" });
  const socket = relay.socket;
  await kill(socket, currentUser);
  const result = await answer.done;
  assert.equal(result.text, await plannedText(prompt));
  assert.equal(result.stopReason, "end_turn");
  assert.ok(states.includes("reconnecting"), `states: ${states}`);
  assert.equal(relay.state, "open");
  assert.ok(tokenCalls >= 2, `the token function was called ${tokenCalls} times`);
  assert.notEqual(relay.socket, socket);
  return { relay, user, answer };
}

test("the connection deleted over @connections mid-answer: exactly the uninterrupted text", async () => {
  await survives(async (_socket, user) => assert.ok((await killConnections(user)) >= 1));
});

test("a dropped TCP socket mid-answer: exactly the uninterrupted text", async () => {
  await survives(async (socket) => socket._socket.destroy()); // ws's net.Socket: gone without a close frame
});

test("cancel ends the answer with stopReason cancelled and the text so far", async () => {
  const { relay } = await client();
  const prompt = "A very long story [[sim tokens=3000 rate=60 ttft=0]]";
  const answer = relay.ask({ text: prompt });
  await waitFor(() => answer.currentText.length > 20, { what: "some text" });
  answer.cancel();
  const result = await answer.done;
  assert.equal(result.stopReason, "cancelled");
  assert.ok(result.text.length < (await plannedText(prompt)).length);
  assert.ok((await plannedText(prompt)).startsWith(result.text));
});

test("cancel before the relay saw the request ends it locally", async () => {
  const { relay } = await client();
  const answer = relay.ask({ text: "never sent" });
  answer.cancel(); // the socket is still connecting
  assert.equal((await answer.done).stopReason, "cancelled");
  assert.equal(relay.answers.length, 0);
});

test("bad_request is a RelayError naming the field", async () => {
  const { relay } = await client();
  const answer = relay.ask({ text: "hi", maxTokens: 0 });
  const error = await answer.done.then(
    () => assert.fail("should fail"),
    (e) => e,
  );
  assert.ok(error instanceof RelayError);
  assert.equal(error.code, "bad_request");
  assert.equal(error.field, "maxTokens");
  assert.equal(error.retryable, false);
  assert.equal(error.requestId, answer.requestId);
  const events = await collect(answer);
  assert.equal(events.at(-1).type, "error");
  assert.equal(events.at(-1).error, error);
  await assert.rejects(answer.text(), RelayError);
});

test("a requestId outside the relay's alphabet fails before it is sent", async () => {
  const { relay } = await client();
  await assert.rejects(relay.ask({ text: "hi", requestId: "no spaces" }).done, { code: "bad_request", field: "requestId" });
});

test("not_found: the history of an unknown conversation", async () => {
  const { relay } = await client();
  await assert.rejects(relay.history("no-such-conversation"), (error) => {
    assert.ok(error instanceof RelayError);
    assert.equal(error.code, "not_found");
    return true;
  });
});

test("rate_limited: retryable with retryAfter", async () => {
  const { relay } = await client();
  const busy = [0, 1].map(() => relay.ask({ text: "busy [[sim tokens=2000 rate=100]]" }));
  await Promise.all(busy.map((a) => waitFor(() => a.status === "streaming", { what: "start" })));
  const third = relay.ask({ text: "one too many" });
  await assert.rejects(third.done, (error) => {
    assert.equal(error.code, "rate_limited");
    assert.equal(error.retryable, true);
    assert.ok(error.retryAfter > 0, `retryAfter ${error.retryAfter}`);
    return true;
  });
  for (const answer of busy) answer.cancel();
  for (const answer of busy) assert.equal((await answer.done).stopReason, "cancelled");
});

test("a message over the frame limit (1009) fails that ask, is never sent again, and the rest goes on", async () => {
  const sent = [];
  class Recording extends WsWebSocket {
    send(data, ...rest) {
      sent.push(JSON.parse(data));
      return super.send(data, ...rest);
    }
  }
  // No split into parts: one 40 KB frame, which API Gateway (and localgw) close with 1009.
  const { relay } = await client({ frameBudgetBytes: null, WebSocket: Recording });
  const frames = [];
  const states = [];
  relay.on("frame", (frame) => frames.push(frame));
  relay.on("state", ({ state }) => states.push(state));
  await relay.connect();
  const big = relay.ask({ text: "é".repeat(20_000) });
  await assert.rejects(big.done, { name: "RelayError", code: "message_too_big", retryable: false });
  const next = relay.ask({ text: `after the big one ${FAST}` });
  assert.match(await next.text(), /^Turn 1\. You said: after the big one/);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(frames.filter((f) => f.requestId === big.requestId).length, 0, "the big message never reached the relay");
  assert.equal(sent.filter((m) => m.requestId === big.requestId).length, 1, "sent once, never again (no resume either)");
  assert.ok(states.includes("reconnecting") && relay.state === "open", `states: ${states}`);
});

test("models, conversations and history", async () => {
  const { relay } = await client();
  const models = await relay.models();
  assert.ok(models.some((m) => m.id === "claude" && m.default === true));
  const answer = relay.ask({ text: `My name is Ada ${FAST} [[sim tokens=20]]`, model: models[0].id });
  const result = await answer.done;
  const page = await relay.conversations({ limit: 5 });
  assert.equal(page.conversations[0].conversationId, result.conversationId);
  assert.ok("next" in page);
  const history = await relay.history(result.conversationId);
  assert.equal(history.conversationId, result.conversationId);
  assert.deepEqual(
    history.turns.map((t) => [t.role, t.text]),
    [
      ["user", `My name is Ada ${FAST} [[sim tokens=20]]`],
      ["assistant", result.text],
    ],
  );
});

test("reconnect is bounded: connection_failed after maxAttempts, state failed", async () => {
  const { relay } = await client({
    token: "x",
    url: "ws://127.0.0.1:9/dev", // nothing listens there
    reconnect: { baseDelayMs: 10, maxDelayMs: 20, maxAttempts: 3 },
  });
  const states = [];
  relay.on("state", ({ state }) => states.push(state));
  const answer = relay.ask({ text: "hello?" });
  await assert.rejects(answer.done, { code: "connection_failed", retryable: true });
  assert.equal(relay.state, "failed");
  // Three attempts ("connecting" each) with a wait ("connecting", delayMs) between them, then "failed".
  assert.deepEqual(states, ["connecting", "connecting", "connecting", "connecting", "connecting", "failed"]);
});

test("close() fails what is in flight with `closed`", async () => {
  const { relay } = await client();
  const answer = relay.ask({ text: "long [[sim tokens=40 rate=100]]" }); // short: it ends soon on the relay too
  await waitFor(() => answer.status === "streaming", { what: "start" });
  relay.close();
  await assert.rejects(answer.done, { code: "closed" });
  await assert.rejects(relay.ask({ text: "after" }).done, { code: "closed" });
});

test("AnswerState: frames applied once, in seq order", () => {
  const state = new AnswerState({ requestId: "r1" });
  const frames = [
    { type: "start", requestId: "r1", seq: 0, model: "claude", conversationId: "c1" },
    { type: "delta", requestId: "r1", seq: 2, text: " world" },
    { type: "delta", requestId: "r1", seq: 1, text: "hello" },
    { type: "delta", requestId: "r1", seq: 1, text: "hello" },
    { type: "done", requestId: "r1", seq: 3, stopReason: "end_turn" },
    { type: "delta", requestId: "r1", seq: 4, text: "late" },
  ];
  assert.deepEqual(
    frames.map((f) => state.receive(f).map((a) => a.seq)),
    [[0], [], [1, 2], [], [3], []],
  );
  assert.equal(state.text, "hello world");
  assert.equal(state.duplicates, 1);
});
