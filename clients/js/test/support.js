// What the tests share: the relay's URL and tokens (from tests/e2e/clients/test_js.py), the WebSocket constructor
// per mode, and the wrapper's helper (kill a user's connections over @connections, the simulator's planned text).
//
//   RELAY_WS_URL      ws://127.0.0.1:PORT/dev
//   RELAY_TOKEN       a dev-issuer token for "alice"
//   RELAY_HELPER_URL  http://127.0.0.1:PORT of the wrapper's helper
//   RELAY_WS_MODE     "passed" (Node 20: the `ws` constructor is passed in) | "global" (Node 22: globalThis.WebSocket)

import { after } from "node:test";

import { WebSocket as WsWebSocket } from "ws";

import { RelayClient } from "../relay-client.js";

export const WS_URL = required("RELAY_WS_URL");
export const TOKEN = required("RELAY_TOKEN");
export const HELPER_URL = required("RELAY_HELPER_URL");
export const MODE = process.env.RELAY_WS_MODE === "global" ? "global" : "passed";

if (MODE === "global") globalThis.WebSocket = WsWebSocket;

let users = 0;

/** A RelayClient for a fresh user (quotas never cross tests), or `alice` with the wrapper's token. */
export async function makeClient({ user, token, ...options } = {}) {
  const name = user ?? `js-${process.pid}-${++users}`;
  const tokenOption = token ?? (name === "alice" ? TOKEN : await mint(name));
  const settings = { url: WS_URL, token: tokenOption, reconnect: { baseDelayMs: 50, maxDelayMs: 500 }, ...options };
  if (MODE === "passed" && !settings.WebSocket) settings.WebSocket = WsWebSocket;
  return { relay: new RelayClient(settings), user: name };
}

export async function mint(user) {
  return (await helper("token", { user })).token;
}

/** DELETE @connections/{id} (boto3 apigatewaymanagementapi) for every connection of `user`; how many. */
export async function killConnections(user) {
  return (await helper("kill", { user })).killed;
}

/** The simulator's reply to `text` as the first turn of a conversation (localgw.simulator.plan_reply). */
export async function plannedText(text) {
  return (await helper("expected", { text })).text;
}

async function helper(path, params) {
  const url = new URL(`/${path}`, HELPER_URL);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  const response = await fetch(url, { method: "POST" });
  if (!response.ok) throw new Error(`helper ${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

export function waitFor(predicate, { timeoutMs = 10_000, what = "a condition" } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = () => {
      const value = predicate();
      if (value) return resolve(value);
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(poll, 20);
    };
    poll();
  });
}

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through tests/e2e/clients/test_js.py`);
  return value;
}

/** A makeClient that closes every client it made when the calling test file ends. */
export function closingClients() {
  const clients = [];
  after(() => {
    for (const relay of clients) relay.close();
  });
  return async function client(options) {
    const made = await makeClient(options);
    clients.push(made.relay);
    return made;
  };
}

/** Every event of an answer, in order. */
export async function collect(answer) {
  const events = [];
  for await (const event of answer) events.push(event);
  return events;
}
