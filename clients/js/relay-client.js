// @ws-llm-relay/client — a client of the WebSocket relay (protocol v1, docs/protocol.md) for browsers and Node ≥ 20.
//
// One ES module with no dependencies and no build step: the browser chat page (web/) imports this very file, and
// Node imports it through the package's exports map. What it takes off the caller's hands: one WebSocket kept open
// (reconnect with capped, jittered backoff, bounded, then a typed error), every answer in flight resumed by its last
// `seq` after a reconnect, duplicate and early frames put in order, frames of concurrent answers routed by
// requestId, and every failure typed (`RelayError`).
//
//   const relay = new RelayClient({ url, token });           // token: a string or an (async) function
//   const answer = relay.ask({ text: "Hello" });
//   for await (const event of answer) if (event.type === "text") process.stdout.write(event.text);
//   const { text, usage } = await answer.done;
//   relay.close();

/** API Gateway's frame quota: a message sent in one larger frame makes it close the connection with 1009. */
export const FRAME_LIMIT_BYTES = 32 * 1024;

const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;
const CLOSE_TOO_BIG = 1009;
const CLOSE_DROPPED = 4000;

const DEFAULT_RECONNECT = Object.freeze({ baseDelayMs: 500, maxDelayMs: 15_000, maxAttempts: 8 });
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

// Node 20 has EventTarget and (since 19) CustomEvent; older runtimes get a minimal stand-in.
const DetailEvent =
  globalThis.CustomEvent ??
  class DetailEvent extends Event {
    constructor(type, { detail = null } = {}) {
      super(type);
      this.detail = detail;
    }
  };

/** Every failure this client reports: an `error` frame of the relay, or one of the client's own codes
 * (`connection_failed`, `message_too_big`, `closed`). */
export class RelayError extends Error {
  constructor(message, options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RelayError";
    /** The protocol's error code (docs/protocol.md) or `connection_failed` | `message_too_big` | `closed`. */
    this.code = options.code ?? "internal";
    /** True when the same request may succeed later (after `retryAfter` seconds when given). */
    this.retryable = Boolean(options.retryable);
    this.retryAfter = options.retryAfter ?? null;
    /** The request field a `bad_request` is about. */
    this.field = options.field ?? null;
    this.requestId = options.requestId ?? null;
    /** `unknown_action` only: the valid actions. */
    this.actions = options.actions ?? null;
    /** The relay's error frame, when the error came from the relay. */
    this.frame = options.frame ?? null;
  }

  static fromFrame(frame) {
    return new RelayError(frame.message || frame.code || "the relay refused the request", {
      code: frame.code || "internal",
      retryable: frame.retryable,
      retryAfter: frame.retryAfter,
      field: frame.field,
      requestId: frame.requestId,
      actions: frame.actions,
      frame,
    });
  }
}

/** A fresh requestId in the relay's alphabet ([A-Za-z0-9_-], 22 characters). */
export function newRequestId() {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** One answer's frames put back in order: a frame already seen is dropped, one that overtook a missing one is held
 * until the gap fills, and nothing is applied after the terminal frame. No I/O: `receive` returns what to apply. */
export class AnswerState {
  constructor({ requestId = null, model = null, conversationId = null } = {}) {
    this.requestId = requestId;
    this.requestedModel = model || null;
    this.conversationId = conversationId || null;
    this.model = null;
    this.text = "";
    this.state = "waiting"; // waiting → streaming → done | error
    this.terminal = null; // the done or error frame that ended it
    this.nextSeq = 0;
    this.early = new Map(); // frames that overtook a missing one, by seq
    this.duplicates = 0;
  }

  /** The last seq received in order (-1: none): what `resume` asks to continue after. */
  get lastSeq() {
    return this.nextSeq - 1;
  }

  get finished() {
    return this.terminal !== null;
  }

  /** Take one frame of this answer; returns the frames applied, in order (none for a duplicate or an early one). */
  receive(frame) {
    if (this.finished) return [];
    if (typeof frame.seq !== "number") {
      // A refusal before the request was accepted: it has no seq and ends the answer.
      if (frame.type !== "error") return [];
      this.finish(frame);
      return [frame];
    }
    if (frame.seq < this.nextSeq || this.early.has(frame.seq)) {
      this.duplicates += 1;
      return [];
    }
    if (frame.seq > this.nextSeq) {
      this.early.set(frame.seq, frame);
      return [];
    }
    const applied = [];
    let next = frame;
    while (next && !this.finished) {
      this.apply(next);
      applied.push(next);
      this.nextSeq += 1;
      next = this.early.get(this.nextSeq);
      this.early.delete(this.nextSeq);
    }
    return applied;
  }

  apply(frame) {
    switch (frame.type) {
      case "start":
        this.state = "streaming";
        this.model = frame.model ?? this.model;
        this.conversationId = frame.conversationId ?? this.conversationId;
        break;
      case "delta":
        this.state = "streaming";
        this.text += frame.text ?? "";
        break;
      case "done":
      case "error":
        this.finish(frame);
        break;
      default:
        break; // a frame type of a later protocol version: it keeps its place in the seq order, nothing more
    }
  }

  finish(frame) {
    this.terminal = frame;
    this.state = frame.type === "done" ? "done" : "error";
    this.early.clear();
  }
}

/** The turns of `history` frames with a turn split over several entries put back together. */
export function mergeTurns(entries) {
  const turns = [];
  for (const entry of entries) {
    const last = turns[turns.length - 1];
    if (last && last.turn === entry.turn) last.text += entry.text || "";
    else turns.push({ ...entry, text: entry.text || "" });
  }
  return turns;
}

const SENDTEXT_FIELDS = ["text", "requestId", "system", "maxTokens", "temperature", "model", "conversationId"];

/** One answer: an async iterable of events, `done` / `text()` for the end, `cancel()`. Made by `RelayClient.ask`. */
export class Answer {
  #client;
  #events = [];
  #wake = [];
  #ended = false;
  #resolve;
  #reject;

  constructor(client, message) {
    this.#client = client;
    /** The `sendtext` message exactly as sent. */
    this.message = message;
    this.requestId = message.requestId;
    this.frames = new AnswerState({
      requestId: message.requestId,
      model: message.model,
      conversationId: message.conversationId,
    });
    this.sent = false; // the sendtext went out on some socket
    this.resuming = false; // a resume is out and nothing numbered came back since
    this.resent = false; // sent again after a resume found nothing: at most once
    this.cancelWanted = false;
    /** Resolves with `{requestId, text, stopReason, usage, metrics, model, conversationId}`; rejects with a RelayError. */
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.done.catch(() => {}); // an answer only iterated must not become an unhandled rejection
  }

  /** "waiting" | "streaming" | "done" | "error". */
  get status() {
    return this.frames.state;
  }

  get finished() {
    return this.frames.finished;
  }

  /** The text so far. */
  get currentText() {
    return this.frames.text;
  }

  get model() {
    return this.frames.model;
  }

  get conversationId() {
    return this.frames.conversationId;
  }

  get lastSeq() {
    return this.frames.lastSeq;
  }

  /** The raw done/error frame that ended the answer (null while it runs, or when the client ended it). */
  get terminal() {
    return this.frames.terminal;
  }

  /** The whole text once the answer is done (rejects with a RelayError when it failed). */
  async text() {
    return (await this.done).text;
  }

  /** Stop the answer: it ends with `done`, `stopReason: "cancelled"`, the text so far kept. */
  cancel() {
    if (this.finished || this.cancelWanted) return;
    this.cancelWanted = true;
    this.#client._cancel(this);
  }

  /** Each call gives an iterator over every event from the first: start, text..., then done or error. */
  [Symbol.asyncIterator]() {
    let index = 0;
    let stopped = false;
    const next = () => {
      if (stopped) return Promise.resolve({ value: undefined, done: true });
      if (index < this.#events.length) return Promise.resolve({ value: this.#events[index++], done: false });
      if (this.#ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => this.#wake.push(() => resolve(next())));
    };
    return {
      next,
      return: () => {
        stopped = true; // this iterator is done; the answer goes on (cancel() stops it)
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  // Called by the client with the frames AnswerState applied, in order.
  _apply(frame) {
    switch (frame.type) {
      case "start":
        this.#push({
          type: "start",
          requestId: this.requestId,
          model: frame.model ?? null,
          conversationId: frame.conversationId ?? null,
        });
        break;
      case "delta":
        if (frame.text) this.#push({ type: "text", text: frame.text });
        break;
      case "done":
        this._finish({ type: "done", stopReason: frame.stopReason ?? null, usage: frame.usage ?? null, metrics: frame.metrics ?? null });
        break;
      case "error":
        this._fail(RelayError.fromFrame({ ...frame, requestId: frame.requestId ?? this.requestId }));
        break;
      default:
        break;
    }
  }

  _finish({ stopReason, usage, metrics }) {
    const result = {
      requestId: this.requestId,
      text: this.frames.text,
      stopReason,
      usage,
      metrics,
      model: this.frames.model,
      conversationId: this.frames.conversationId,
    };
    if (!this.frames.finished) this.frames.finish({ type: "done", requestId: this.requestId, stopReason, usage, metrics });
    this.#push({ type: "done", requestId: this.requestId, stopReason, usage, metrics }, true);
    this.#resolve(result);
  }

  _fail(error) {
    if (!this.frames.finished) {
      this.frames.finish({ type: "error", requestId: this.requestId, code: error.code, message: error.message });
    }
    this.#push({ type: "error", requestId: this.requestId, error }, true);
    this.#reject(error);
  }

  #push(event, end = false) {
    if (this.#ended) return;
    this.#events.push(event);
    if (end) this.#ended = true;
    const waiting = this.#wake;
    this.#wake = [];
    for (const wake of waiting) wake();
  }
}

/**
 * The relay over one WebSocket, kept open until `close()`.
 *
 * Events (EventTarget, `event.detail`; or `on(type, fn)` which passes the detail):
 *   "state" — `{state, attempt, delayMs, error}`; state is idle | connecting | open | reconnecting | failed | closed
 *   "open"  — `{reconnected}`
 *   "frame" — every frame received, parsed
 *   "error" — `{error}`: a RelayError that belongs to no request (e.g. a refused cancel)
 */
export class RelayClient extends EventTarget {
  #url;
  #token;
  #WebSocket;
  #reconnect;
  #connectTimeoutMs;
  #socket = null;
  #sent = []; // what went out on the current socket: {bytes, target}
  #generation = 0;
  #attempt = 0;
  #everOpened = false;
  #retryTimer = null;
  #closed = false;
  #answers = new Map(); // requestId → Answer, unfinished
  #controls = []; // models / history / conversations requests not answered yet
  #waitingOpen = [];
  #listeners = new Map();
  #onOnline = null;

  constructor({ url, token = null, WebSocket = globalThis.WebSocket, reconnect = {}, connectTimeoutMs } = {}) {
    super();
    if (!url) throw new TypeError("RelayClient: `url` is required (ws:// or wss://, stage included)");
    if (typeof WebSocket !== "function") {
      throw new TypeError("RelayClient: no WebSocket here; pass one: new RelayClient({ url, WebSocket }) (e.g. the `ws` package)");
    }
    this.#url = url;
    this.#token = token;
    this.#WebSocket = WebSocket;
    this.#reconnect = { ...DEFAULT_RECONNECT, ...reconnect };
    this.#connectTimeoutMs = connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    /** idle | connecting | open | reconnecting | failed | closed */
    this.state = "idle";
    if (typeof globalThis.addEventListener === "function" && typeof globalThis.window === "object") {
      // Back online after a network change (browsers): no point waiting out the backoff.
      this.#onOnline = () => {
        if (this.#retryTimer) this.#connectNow();
      };
      globalThis.addEventListener("online", this.#onOnline);
    }
  }

  get url() {
    return this.#url;
  }

  get isOpen() {
    return this.#socket?.readyState === 1;
  }

  /** The current WebSocket (null between connections): for diagnostics and tests only. */
  get socket() {
    return this.#socket;
  }

  /** Answers in flight. */
  get answers() {
    return [...this.#answers.values()];
  }

  /** Resolves once the socket is open (connecting if needed); rejects with `connection_failed` or `closed`. */
  connect() {
    if (this.#closed) return Promise.reject(closedError());
    if (this.isOpen) return Promise.resolve();
    const opened = new Promise((resolve, reject) => this.#waitingOpen.push({ resolve, reject }));
    this.#ensureConnecting();
    return opened;
  }

  /** Ask the model. Options: text (required), model, conversationId, system, maxTokens, temperature, requestId. */
  ask(options) {
    const { text, requestId = newRequestId(), ...rest } = typeof options === "string" ? { text: options } : options ?? {};
    const message = { action: "sendtext", text, requestId };
    for (const key of SENDTEXT_FIELDS) {
      if (key in message || rest[key] === undefined || rest[key] === null) continue;
      message[key] = rest[key];
    }
    const answer = new Answer(this, message);
    if (this.#closed) {
      answer._fail(closedError(requestId));
      return answer;
    }
    if (typeof requestId !== "string" || !REQUEST_ID.test(requestId)) {
      const error = new RelayError("requestId: expected 1-64 characters of A-Z a-z 0-9 _ -", {
        code: "bad_request",
        field: "requestId",
      });
      answer._fail(error);
      return answer;
    }
    if (this.#answers.has(requestId)) {
      answer._fail(new RelayError("requestId: an answer with this id is in flight", { code: "bad_request", field: "requestId", requestId }));
      return answer;
    }
    this.#answers.set(requestId, answer);
    if (this.isOpen) this.#sendAnswer(answer);
    else this.#ensureConnecting();
    return answer;
  }

  /** `[{id, provider, default}]`: the models `ask({model})` accepts. */
  async models() {
    return (await this.#control({ kind: "models", message: { action: "models" } })).models ?? [];
  }

  /** `{conversationId, title, turns}`, oldest turn first, split turns merged. */
  history(conversationId) {
    return this.#control({ kind: "history", key: conversationId, message: { action: "history", conversationId } });
  }

  /** `{conversations: [{conversationId, title, updatedAt, turns}], next}`, newest first; pass `next` as `cursor`. */
  async conversations({ limit, cursor } = {}) {
    const message = { action: "conversations" };
    if (limit !== undefined) message.limit = limit;
    if (cursor) message.cursor = cursor;
    const frame = await this.#control({ kind: "conversations", message });
    return { conversations: frame.conversations ?? [], next: frame.next ?? null };
  }

  /** Close for good: answers in flight fail with `closed` (the relay keeps their text; resume them elsewhere). */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    if (this.#onOnline) globalThis.removeEventListener("online", this.#onOnline);
    this.#generation += 1;
    this.#detach(1000, "closed by the client");
    this.#failEverything(closedError());
    this.#setState("closed");
  }

  /** Lose the socket the way a network failure would (tests, devtools): the reconnect and resumes follow. */
  drop() {
    this.#socket?.close(CLOSE_DROPPED, "dropped on purpose");
  }

  /** `on(type, fn)`: `fn(detail)` for each event of `type`; returns a function that removes it. */
  on(type, fn) {
    const listener = (event) => fn(event.detail);
    this.#listeners.set(fn, listener);
    this.addEventListener(type, listener);
    return () => this.off(type, fn);
  }

  off(type, fn) {
    const listener = this.#listeners.get(fn);
    if (listener) this.removeEventListener(type, listener);
  }

  // --- answers ------------------------------------------------------------------------------------------------

  _cancel(answer) {
    if (!answer.sent) {
      // The relay never saw it: nothing to stop there.
      this.#answers.delete(answer.requestId);
      answer._finish({ stopReason: "cancelled", usage: null, metrics: null });
      return;
    }
    // Before `start` the relay may not know the request yet: the cancel goes out with the start (or after a resume).
    if (answer.frames.nextSeq > 0) this.#send({ action: "cancel", requestId: answer.requestId }, null);
  }

  #sendAnswer(answer) {
    if (this.#send(answer.message, answer)) answer.sent = true;
  }

  #onAnswerFrame(answer, frame) {
    const unnumbered = typeof frame.seq !== "number";
    if (frame.type === "error" && unnumbered) {
      if (answer.resuming && frame.code === "not_found" && answer.frames.nextSeq === 0 && !answer.resent) {
        // The socket died before the relay took the request: nothing to resume, so ask again (once).
        answer.resuming = false;
        answer.resent = true;
        this.#sendAnswer(answer);
        return;
      }
      if (answer.resent && answer.frames.nextSeq === 0 && frame.code === "bad_request" && frame.field === "requestId") {
        // The first sendtext was taken after all (it raced our resume): follow that one.
        answer.resuming = true;
        this.#send({ action: "resume", requestId: answer.requestId, after: answer.lastSeq }, answer);
        return;
      }
      if (answer.frames.nextSeq > 0 && !answer.resuming) {
        this.#emit("error", { error: RelayError.fromFrame(frame) }); // a refused cancel, not the answer's end
        return;
      }
    }
    if (!unnumbered) answer.resuming = false;
    for (const applied of answer.frames.receive(frame)) {
      answer._apply(applied);
      if (applied.type === "start" && answer.cancelWanted) this._cancel(answer);
    }
    if (answer.finished) this.#answers.delete(answer.requestId);
  }

  // --- models, history, conversations ---------------------------------------------------------------------------

  #control({ kind, key = null, message }) {
    if (this.#closed) return Promise.reject(closedError());
    return new Promise((resolve, reject) => {
      this.#controls.push({ kind, key, message, resolve, reject, sent: false, turns: [], title: "" });
      if (this.isOpen) this.#pump();
      else this.#ensureConnecting();
    });
  }

  /** Send what may go now: one request per kind (per conversation for history) at a time, since their answers
   * carry no request id to match them by. */
  #pump() {
    const busy = new Set(this.#controls.filter((c) => c.sent).map((c) => `${c.kind}:${c.key}`));
    for (const control of this.#controls) {
      const slot = `${control.kind}:${control.key}`;
      if (control.sent || busy.has(slot)) continue;
      if (!this.#send(control.message, control)) return;
      control.sent = true;
      control.turns = [];
      busy.add(slot);
    }
  }

  #settle(control, error, value) {
    this.#controls.splice(this.#controls.indexOf(control), 1);
    if (error) control.reject(error);
    else control.resolve(value);
    if (this.isOpen) this.#pump();
  }

  #onControlFrame(frame) {
    const control = this.#controls.find(
      (c) => c.sent && c.kind === frame.type && (frame.type !== "history" || c.key === frame.conversationId),
    );
    if (!control) return;
    if (frame.type !== "history") return this.#settle(control, null, frame);
    control.turns.push(...(frame.turns || []));
    if (frame.title) control.title = frame.title;
    if (frame.final) {
      this.#settle(control, null, { conversationId: control.key, title: control.title, turns: mergeTurns(control.turns) });
    }
  }

  // --- the socket ---------------------------------------------------------------------------------------------

  #ensureConnecting() {
    if (this.#closed || this.#socket || this.#retryTimer) return;
    if (this.state === "connecting" || this.state === "reconnecting") return; // a token is on its way
    this.#attempt = 0;
    this.#connectNow();
  }

  #connectNow() {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#detach(1000, "reconnecting");
    this.#setState(this.#everOpened ? "reconnecting" : "connecting");
    const generation = ++this.#generation;
    this.#open(generation).catch((error) => {
      if (generation === this.#generation) this.#failed(error);
    });
  }

  async #open(generation) {
    const token =
      typeof this.#token === "function"
        ? await this.#token({ attempt: this.#attempt, fresh: this.#attempt > 0 })
        : this.#token;
    if (generation !== this.#generation || this.#closed) return;
    const url = new URL(this.#url, globalThis.location?.href);
    if (token) url.searchParams.set("token", token);
    const socket = new this.#WebSocket(url.toString());
    this.#socket = socket;
    this.#sent = [];
    let opened = false;
    const timer = setTimeout(() => {
      if (!opened && this.#socket === socket) socket.close();
    }, this.#connectTimeoutMs);
    socket.addEventListener("open", () => {
      if (this.#socket !== socket) return;
      opened = true;
      clearTimeout(timer);
      this.#opened();
    });
    socket.addEventListener("message", (event) => {
      if (this.#socket === socket) this.#onMessage(event.data);
    });
    socket.addEventListener("error", () => {}); // the close that follows says it all (and `ws` must see a listener)
    socket.addEventListener("close", (event) => {
      clearTimeout(timer);
      if (this.#socket !== socket) return; // replaced or closed on purpose
      this.#socket = null;
      this.#lost(event.code, opened);
    });
  }

  #opened() {
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    this.#attempt = 0;
    this.#setState("open");
    for (const waiter of this.#waitingOpen.splice(0)) waiter.resolve();
    this.#emit("open", { reconnected });
    // Answers in flight continue from the last frame received: the relay replays the rest, then streams on.
    for (const answer of this.#answers.values()) {
      if (!answer.sent) {
        this.#sendAnswer(answer);
        continue;
      }
      answer.resuming = true;
      this.#send({ action: "resume", requestId: answer.requestId, after: answer.lastSeq }, answer);
      if (answer.cancelWanted && answer.frames.nextSeq > 0) this._cancel(answer);
    }
    for (const control of this.#controls) control.sent = false; // asked on a socket that is gone: ask again
    this.#pump();
  }

  #lost(code, opened) {
    if (this.#closed) return;
    if (code === CLOSE_TOO_BIG) {
      // API Gateway refused a message as too big: the one to blame never goes out again.
      const culprit = this.#culprit();
      const error = new RelayError(
        `the relay closed the connection (1009): a message was over its size limit (frames ≤ ${FRAME_LIMIT_BYTES} bytes)`,
        { code: "message_too_big", requestId: culprit instanceof Answer ? culprit.requestId : null },
      );
      if (culprit instanceof Answer && !culprit.finished) {
        this.#answers.delete(culprit.requestId);
        culprit._fail(error);
      } else if (culprit && this.#controls.includes(culprit)) {
        this.#settle(culprit, error);
      }
    }
    this.#sent = [];
    this.#failed(opened ? null : new Error("the WebSocket handshake failed"));
  }

  #culprit() {
    const over = this.#sent.filter((s) => s.bytes > FRAME_LIMIT_BYTES);
    const pick = over.length ? over.reduce((a, b) => (b.bytes > a.bytes ? b : a)) : this.#sent[this.#sent.length - 1];
    return pick?.target ?? null;
  }

  #failed(error) {
    if (this.#closed) return;
    this.#attempt += 1;
    const { baseDelayMs, maxDelayMs, maxAttempts } = this.#reconnect;
    if (this.#attempt >= maxAttempts) {
      const failure = new RelayError(`could not reach the relay after ${maxAttempts} attempts`, {
        code: "connection_failed",
        retryable: true,
        cause: error ?? undefined,
      });
      this.#attempt = 0;
      this.#failEverything(failure);
      this.#setState("failed", 0, failure);
      return;
    }
    // Jitter between half and all of the exponential step, so a relay that restarts is not hit by every client at once.
    const step = Math.min(maxDelayMs, baseDelayMs * 2 ** (this.#attempt - 1));
    const delayMs = Math.round(step / 2 + Math.random() * (step / 2));
    this.#setState(this.#everOpened ? "reconnecting" : "connecting", delayMs, error);
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connectNow(), delayMs);
  }

  #failEverything(error) {
    for (const answer of this.#answers.values()) {
      answer._fail(new RelayError(error.message, { ...error, requestId: answer.requestId, cause: error.cause }));
    }
    this.#answers.clear();
    for (const control of this.#controls.splice(0)) control.reject(error);
    for (const waiter of this.#waitingOpen.splice(0)) waiter.reject(error);
  }

  #detach(code, reason) {
    const socket = this.#socket;
    this.#socket = null;
    if (socket && socket.readyState <= 1) {
      try {
        socket.close(code, reason);
      } catch {
        socket.close();
      }
    }
  }

  #send(message, target) {
    if (!this.isOpen) return false;
    const data = JSON.stringify(message);
    this.#socket.send(data);
    this.#sent.push({ bytes: new TextEncoder().encode(data).length, target });
    if (this.#sent.length > 64) this.#sent.splice(0, this.#sent.length - 64);
    return true;
  }

  #onMessage(data) {
    let frame;
    try {
      frame = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
    } catch {
      return; // not a frame of the protocol
    }
    if (!frame || typeof frame !== "object" || Array.isArray(frame)) return;
    this.#emit("frame", frame);
    switch (frame.type) {
      case "models":
      case "conversations":
      case "history":
        return this.#onControlFrame(frame);
      default:
        break;
    }
    const answer = typeof frame.requestId === "string" ? this.#answers.get(frame.requestId) : undefined;
    if (answer) return this.#onAnswerFrame(answer, frame);
    if (frame.type !== "error") return;
    const error = RelayError.fromFrame(frame);
    // A refusal of models / history / conversations names no request: it answers the oldest one asked.
    const control = frame.requestId ? null : this.#controls.find((c) => c.sent);
    if (control) this.#settle(control, error);
    else this.#emit("error", { error });
  }

  #setState(state, delayMs = 0, error = null) {
    this.state = state;
    this.#emit("state", { state, attempt: this.#attempt, delayMs, error });
  }

  #emit(type, detail) {
    this.dispatchEvent(new DetailEvent(type, { detail }));
  }
}

function closedError(requestId = null) {
  return new RelayError("the client was closed", { code: "closed", requestId });
}
