// @ws-llm-relay/client — a client of the WebSocket relay (protocol v2, docs/protocol.md) for browsers and Node ≥ 20.
//
// One ES module with no dependencies and no build step: the browser chat page (web/) imports this very file, and
// Node imports it through the package's exports map. What it takes off the caller's hands: one WebSocket kept open
// (reconnect with capped, jittered backoff, bounded, then a typed error), every answer in flight resumed by its last
// `seq` after a reconnect, duplicate and early frames put in order, frames of concurrent answers routed by
// requestId, long text split into `sendtext` parts that each fit a frame, attachments uploaded, reasoning and
// tool calls as events of their own, and every failure typed (`RelayError`).
//
//   const relay = new RelayClient({ url, token });           // token: a string or an (async) function
//   const answer = relay.ask({ text: "Hello" });
//   for await (const event of answer) if (event.type === "text") process.stdout.write(event.text);
//   const { text, usage } = await answer.done;
//   relay.close();

/** API Gateway's frame quota: a message sent in one larger frame makes it close the connection with 1009. */
export const FRAME_LIMIT_BYTES = 32 * 1024;

/** What one message may take on the wire, JSON escaping and UTF-8 included: under the frame limit with room to spare
 * (API Gateway counts the frame, not the text). A `sendtext` larger than this goes out as parts. */
export const FRAME_BUDGET_BYTES = 30 * 1024;
/** The relay joins at most this many parts into one `sendtext` (issue 15's contract). */
export const MAX_PARTS = 64;

/** What the relay accepts as attachments (docs/protocol.md, `attach`): content type → kind and size limit. Checked
 * here too, so a file that cannot go is refused before anything is uploaded. */
export const ATTACHMENT_TYPES = Object.freeze({
  "image/png": { kind: "image", maxBytes: 3_750_000 },
  "image/jpeg": { kind: "image", maxBytes: 3_750_000 },
  "image/gif": { kind: "image", maxBytes: 3_750_000 },
  "image/webp": { kind: "image", maxBytes: 3_750_000 },
  "application/pdf": { kind: "document", maxBytes: 4_500_000 },
  "text/plain": { kind: "document", maxBytes: 4_500_000 },
  "text/markdown": { kind: "document", maxBytes: 4_500_000 },
  "text/csv": { kind: "document", maxBytes: 4_500_000 },
  "text/html": { kind: "document", maxBytes: 4_500_000 },
  "application/msword": { kind: "document", maxBytes: 4_500_000 },
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": { kind: "document", maxBytes: 4_500_000 },
  "application/vnd.ms-excel": { kind: "document", maxBytes: 4_500_000 },
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": { kind: "document", maxBytes: 4_500_000 },
});
// Browsers leave `type` empty for some files (.md on most systems): the extension decides then.
const TYPE_BY_EXTENSION = Object.freeze({
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  pdf: "application/pdf",
  txt: "text/plain",
  md: "text/markdown",
  markdown: "text/markdown",
  csv: "text/csv",
  html: "text/html",
  htm: "text/html",
  doc: "application/msword",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
});

const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;
const CLOSE_TOO_BIG = 1009;
const CLOSE_DROPPED = 4000;

// `stableAfterMs`: a connection counts as good (the attempt count starts again) once a frame arrived on it or it
// stayed open this long; one that opens and is closed at once still counts as a failed attempt, so a relay or proxy
// that keeps accepting and closing ends in `failed`, never in a reconnect loop.
const DEFAULT_RECONNECT = Object.freeze({ baseDelayMs: 500, maxDelayMs: 15_000, maxAttempts: 8, stableAfterMs: 10_000 });
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
 * (`connection_failed`, `message_too_big`, `closed`, `upload_failed`). */
export class RelayError extends Error {
  constructor(message, options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RelayError";
    /** The protocol's error code (docs/protocol.md) or `connection_failed` | `message_too_big` | `closed` |
     * `upload_failed`. */
    this.code = options.code ?? "internal";
    /** True when the same request may succeed later (after `retryAfter` seconds when given). */
    this.retryable = Boolean(options.retryable);
    this.retryAfter = options.retryAfter ?? null;
    /** The request field a `bad_request` is about. */
    this.field = options.field ?? null;
    this.requestId = options.requestId ?? null;
    /** `unknown_action` only: the valid actions. */
    this.actions = options.actions ?? null;
    /** A file refused before upload: `wrong_type` | `too_big` | `empty`. */
    this.reason = options.reason ?? null;
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
    this.reasoning = ""; // protocol v2: the model's reasoning, never mixed into `text`
    this.reasoningRedacted = false;
    this.toolUses = []; // protocol v2: `{toolUseId, name, input}` in the order the model called them
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
      case "reasoning":
        this.state = "streaming";
        this.reasoning += frame.text ?? "";
        if (frame.redacted) this.reasoningRedacted = true;
        break;
      case "tool_use":
        this.state = "streaming";
        this.toolUses.push({ toolUseId: frame.toolUseId, name: frame.name, input: frame.input ?? {} });
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

const MERGED_LISTS = ["toolUses", "toolResults", "attachments"];

/** The turns of `history` frames with a turn split over several entries put back together: text and reasoning
 * concatenated, tool calls, tool results and attachments (protocol v2, which may follow in entries of their own)
 * joined in order. */
export function mergeTurns(entries) {
  const turns = [];
  for (const entry of entries) {
    const last = turns[turns.length - 1];
    if (!last || last.turn !== entry.turn) {
      turns.push({ ...entry, text: entry.text || "" });
      continue;
    }
    last.text += entry.text || "";
    if (typeof entry.reasoning === "string") last.reasoning = (last.reasoning ?? "") + entry.reasoning;
    for (const key of MERGED_LISTS) {
      if (Array.isArray(entry[key])) last[key] = [...(last[key] ?? []), ...entry[key]];
    }
  }
  return turns;
}

const SENDTEXT_FIELDS = [
  "text",
  "requestId",
  "system",
  "maxTokens",
  "temperature",
  "model",
  "conversationId",
  "tools",
  "toolChoice",
  "toolResults",
  "reasoning",
  "attachments",
];

const encoder = new TextEncoder();

/** Bytes `value` takes inside a JSON string on the wire: UTF-8 after JSON escaping (`"` → `\"`, control
 * characters → `\uXXXX`, a lone surrogate → `\uXXXX`). `char` is one code point. */
function escapedBytes(char) {
  const code = char.codePointAt(0);
  if (code >= 0x20 && code < 0x7f && code !== 0x22 && code !== 0x5c) return 1;
  return encoder.encode(JSON.stringify(char)).length - 2;
}

/** The bytes of `message` as sent (JSON, UTF-8). */
export function messageBytes(message) {
  return encoder.encode(JSON.stringify(message)).length;
}

/**
 * The `sendtext` messages that carry `message` with none over `budget` bytes: the message itself when it fits, else
 * parts (issue 15): every field repeated, `part` i of `parts` n, each with its slice of `text`, cut between code
 * points (never inside an emoji's surrogate pair) where the next character would pass the budget. Throws a
 * `message_too_big` RelayError when no split fits (the other fields alone are too big, or more than 64 parts).
 */
export function splitSendtext(message, budget = FRAME_BUDGET_BYTES) {
  if (messageBytes(message) <= budget) return [message];
  const text = typeof message.text === "string" ? message.text : "";
  const tooBig = (why) =>
    new RelayError(`the message cannot be sent: ${why}`, { code: "message_too_big", requestId: message.requestId ?? null });
  if (!message.requestId) throw tooBig("a message sent in parts needs a requestId");
  // The widest `part`/`parts` numbers: the frame of the last part is never larger than computed here.
  const overhead = messageBytes({ ...message, text: "", part: MAX_PARTS, parts: MAX_PARTS });
  const room = budget - overhead;
  if (room < 64) throw tooBig(`its fields other than text take ${overhead} bytes of the ${budget}-byte frame budget`);
  const slices = [];
  let start = 0;
  let used = 0;
  let index = 0;
  for (const char of text) {
    const width = escapedBytes(char);
    if (used + width > room) {
      slices.push(text.slice(start, index));
      start = index;
      used = 0;
    }
    used += width;
    index += char.length;
  }
  slices.push(text.slice(start));
  if (slices.length > MAX_PARTS) {
    throw tooBig(`its text needs ${slices.length} parts of at most ${budget} bytes; the relay joins at most ${MAX_PARTS}`);
  }
  return slices.map((slice, part) => ({ ...message, text: slice, part, parts: slices.length }));
}

/** The content type the relay will be told for `file` (its `type`, or from its name's extension). */
export function attachmentType(file) {
  if (file?.type) return file.type.split(";")[0].trim().toLowerCase();
  const extension = String(file?.name ?? "").split(".").pop().toLowerCase();
  return TYPE_BY_EXTENSION[extension] ?? "";
}

/** Why `file` cannot be attached (`wrong_type`, `too_big`, `empty`), or null when it can. `kinds` (optional): the
 * kinds the chosen model takes (the `attachments` of its `models` entry). The result's `message` is for people. */
export function checkAttachment(file, { kinds = null } = {}) {
  const type = attachmentType(file);
  const name = file?.name || "the file";
  const rule = ATTACHMENT_TYPES[type];
  if (!rule) {
    return { reason: "wrong_type", message: `${name}: ${type || "this type of file"} cannot be attached (images: png, jpeg, gif, webp; documents: pdf, txt, md, csv, html, doc(x), xls(x))` };
  }
  if (kinds && !kinds.includes(rule.kind)) {
    return { reason: "wrong_type", message: `${name}: this model takes no ${rule.kind}s` };
  }
  const size = file.size ?? 0;
  if (size === 0) return { reason: "empty", message: `${name} is empty` };
  if (size > rule.maxBytes) {
    return { reason: "too_big", message: `${name} is ${megabytes(size)}; ${rule.kind}s may be at most ${megabytes(rule.maxBytes)}` };
  }
  return null;
}

function megabytes(bytes) {
  return `${(bytes / 1_000_000).toFixed(2)} MB`;
}

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
    /** The `sendtext` message as asked (before any split into parts). */
    this.message = message;
    /** What goes on the wire: the message, or its parts when it is over the frame budget (set by the client). */
    this.messages = [message];
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
    /** Resolves with `{requestId, text, reasoning, toolUses, stopReason, usage, metrics, model, conversationId}`;
     * rejects with a RelayError. `stopReason: "tool_use"`: send `toolResults` for `toolUses` in the next ask. */
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

  /** The reasoning so far (protocol v2; "" when the model did not reason or its reasoning was redacted). */
  get currentReasoning() {
    return this.frames.reasoning;
  }

  /** The tool calls so far: `{toolUseId, name, input}` (protocol v2). */
  get toolUses() {
    return [...this.frames.toolUses];
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
      case "reasoning":
        if (frame.text || frame.redacted) {
          this.#push({ type: "reasoning", text: frame.text ?? "", redacted: Boolean(frame.redacted) });
        }
        break;
      case "tool_use":
        this.#push({ type: "toolUse", toolUseId: frame.toolUseId, name: frame.name, input: frame.input ?? {} });
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
      reasoning: this.frames.reasoning,
      toolUses: [...this.frames.toolUses],
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
  #frameBudget;
  #stableTimer = null;
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

  constructor({
    url,
    token = null,
    WebSocket = globalThis.WebSocket,
    reconnect = {},
    connectTimeoutMs,
    frameBudgetBytes = FRAME_BUDGET_BYTES,
  } = {}) {
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
    // null: no splitting, one frame per message whatever its size (tests of the gateway's 1009 use it).
    this.#frameBudget = frameBudgetBytes;
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

  /** Ask the model. Options: text (required unless toolResults), model, conversationId, system, maxTokens,
   * temperature, requestId, and protocol v2's tools, toolChoice, toolResults, reasoning, attachments (ids from
   * `attach`). A text too long for one frame goes out as parts. */
  ask(options) {
    const { text, requestId = newRequestId(), ...rest } = typeof options === "string" ? { text: options } : options ?? {};
    const message = { action: "sendtext", text, requestId };
    if (text === undefined || text === null) delete message.text;
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
    try {
      answer.messages = this.#frameBudget ? splitSendtext(message, this.#frameBudget) : [message];
    } catch (error) {
      answer._fail(error);
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

  /**
   * Upload a file for `ask({attachments: [id]})`: the `attach` action gives a presigned POST, the file goes there in
   * an ordinary multipart POST (not over the WebSocket). `file`: a Blob or File; `fileName` / `contentType` override
   * its own. Resolves `{attachmentId, fileName, contentType, size}`. A file of a type or size the relay refuses is
   * refused here, before anything is sent (`bad_request`, field `attachments`, `reason` wrong_type | too_big | empty);
   * a failed upload is `upload_failed`.
   */
  async attach(file, { fileName, contentType, kinds = null } = {}) {
    const name = fileName ?? file?.name ?? "attachment";
    const type = contentType ?? attachmentType(file);
    const size = file?.size ?? 0;
    const problem = checkAttachment({ name, type, size }, { kinds });
    if (problem) {
      throw new RelayError(problem.message, { code: "bad_request", field: "attachments", reason: problem.reason });
    }
    const upload = await this.#control({
      kind: "upload",
      message: { action: "attach", fileName: name, contentType: type, size },
    });
    const form = new FormData();
    for (const [key, value] of Object.entries(upload.fields ?? {})) form.append(key, value);
    form.append("file", file, name); // S3 reads the fields before the file: it goes last
    let response;
    try {
      response = await fetch(upload.url, { method: "POST", body: form });
    } catch (cause) {
      throw new RelayError(`the upload of ${name} failed: ${cause.message}`, { code: "upload_failed", retryable: true, cause });
    }
    if (!response.ok) {
      throw new RelayError(`the upload of ${name} failed (HTTP ${response.status})`, {
        code: "upload_failed",
        retryable: response.status >= 500,
      });
    }
    return { attachmentId: upload.attachmentId, fileName: name, contentType: type, size, expiresIn: upload.expiresIn ?? null };
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
    clearTimeout(this.#stableTimer);
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
    // Parts go out back to back; the relay starts the answer once it holds all of them, in whatever order they land.
    for (const message of answer.messages) {
      if (!this.#send(message, answer)) return;
      answer.sent = true;
    }
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
    // The attempt count starts again only once this connection proves good (#healthy), not merely because it opened.
    clearTimeout(this.#stableTimer);
    this.#stableTimer = setTimeout(() => this.#healthy(), this.#reconnect.stableAfterMs);
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

  #healthy() {
    clearTimeout(this.#stableTimer);
    this.#stableTimer = null;
    this.#attempt = 0;
  }

  #lost(code, opened) {
    clearTimeout(this.#stableTimer);
    this.#stableTimer = null;
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
    this.#failed(new Error(opened ? `the connection closed (code ${code})` : "the WebSocket handshake failed"));
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
      const failure = new RelayError(`could not reach the relay after ${maxAttempts} attempts (last: ${error?.message ?? "unknown"})`, {
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
    if (this.#stableTimer) this.#healthy(); // the relay answers on this connection: it is a good one
    this.#emit("frame", frame);
    switch (frame.type) {
      case "models":
      case "conversations":
      case "history":
      case "upload":
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
