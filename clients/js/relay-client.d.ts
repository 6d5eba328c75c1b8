// Types of @ws-llm-relay/client (relay-client.js), written by hand; checked by `npm run typecheck`.

/** The relay's error codes (docs/protocol.md) and the client's own. */
export type RelayErrorCode =
  | "bad_request"
  | "unknown_action"
  | "throttled"
  | "upstream_unavailable"
  | "model_error"
  | "rate_limited"
  | "forbidden"
  | "not_found"
  | "connection_lost"
  | "internal"
  /** Client: the connection could not be (re)established within `reconnect.maxAttempts`. Retryable. */
  | "connection_failed"
  /** Client: API Gateway closed the connection (1009) over this request's message; it is never sent again. */
  | "message_too_big"
  /** Client: `close()` was called. */
  | "closed"
  | (string & {});

export type StopReason =
  | "end_turn"
  | "max_tokens"
  | "stop_sequence"
  | "content_filtered"
  | "tool_use"
  | "time_limit"
  | "cancelled"
  | (string & {});

export const FRAME_LIMIT_BYTES: number;

export interface RelayErrorOptions {
  code?: RelayErrorCode;
  retryable?: boolean;
  retryAfter?: number | null;
  field?: string | null;
  requestId?: string | null;
  actions?: string[] | null;
  frame?: ErrorFrame | null;
  cause?: unknown;
}

export class RelayError extends Error {
  constructor(message: string, options?: RelayErrorOptions);
  readonly name: "RelayError";
  code: RelayErrorCode;
  retryable: boolean;
  /** Seconds to wait before retrying (`rate_limited`). */
  retryAfter: number | null;
  /** The request field a `bad_request` is about. */
  field: string | null;
  requestId: string | null;
  /** `unknown_action`: the valid actions. */
  actions: string[] | null;
  /** The relay's error frame, when the relay sent one. */
  frame: ErrorFrame | null;
  static fromFrame(frame: ErrorFrame): RelayError;
}

// ---- frames (the wire, docs/protocol.md) ----

export interface Usage {
  inputTokens: number | null;
  outputTokens: number | null;
}

export interface Metrics {
  firstTokenMs?: number | null;
  totalMs?: number | null;
  [name: string]: unknown;
}

export interface StartFrame {
  type: "start";
  requestId: string;
  seq: number;
  model: string;
  conversationId: string;
}

export interface DeltaFrame {
  type: "delta";
  requestId: string;
  seq: number;
  text: string;
}

export interface DoneFrame {
  type: "done";
  requestId: string;
  seq: number;
  stopReason: StopReason;
  usage: Usage | null;
  metrics: Metrics | null;
}

export interface ErrorFrame {
  type: "error";
  code: RelayErrorCode;
  message: string;
  retryable: boolean;
  requestId?: string;
  seq?: number;
  field?: string;
  retryAfter?: number;
  actions?: string[];
}

/** Any frame: a v1 frame, or one of a later protocol version this client passes through untouched. */
export type Frame = StartFrame | DeltaFrame | DoneFrame | ErrorFrame | { type: string; [key: string]: unknown };

// ---- answers ----

/** What `ask()` accepts: protocol v1's sendtext fields (later versions add tools, parts, attachments here). */
export interface AskOptions {
  text: string;
  model?: string;
  conversationId?: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
  /** `[A-Za-z0-9_-]{1,64}`; made by the client when absent. */
  requestId?: string;
}

export interface StartEvent {
  type: "start";
  requestId: string;
  model: string | null;
  conversationId: string | null;
}

export interface TextEvent {
  type: "text";
  text: string;
}

export interface DoneEvent {
  type: "done";
  requestId: string;
  stopReason: StopReason;
  usage: Usage | null;
  metrics: Metrics | null;
}

export interface ErrorEvent {
  type: "error";
  requestId: string;
  error: RelayError;
}

/** The events of one answer, in order: start, text..., then exactly one done or error. Discriminated by `type`
 * (protocol v2 adds more members, e.g. reasoning and tool_use: switch with a default branch). */
export type AnswerEvent = StartEvent | TextEvent | DoneEvent | ErrorEvent;

export interface AnswerResult {
  requestId: string;
  text: string;
  stopReason: StopReason;
  usage: Usage | null;
  metrics: Metrics | null;
  model: string | null;
  conversationId: string | null;
}

/** One answer's frames in seq order, once each (also what the chat page uses). */
export class AnswerState {
  constructor(init?: { requestId?: string | null; model?: string | null; conversationId?: string | null });
  requestId: string | null;
  requestedModel: string | null;
  conversationId: string | null;
  model: string | null;
  text: string;
  state: "waiting" | "streaming" | "done" | "error";
  terminal: DoneFrame | ErrorFrame | null;
  nextSeq: number;
  duplicates: number;
  readonly lastSeq: number;
  readonly finished: boolean;
  /** Returns the frames applied, in order (none for a duplicate or a frame that came early). */
  receive(frame: Frame): Frame[];
}

export class Answer implements AsyncIterable<AnswerEvent> {
  private constructor();
  readonly requestId: string;
  /** The sendtext message as sent. */
  readonly message: { action: "sendtext"; text: string; requestId: string } & Omit<AskOptions, "text" | "requestId">;
  readonly frames: AnswerState;
  /** Resolves when the answer is done (cancelled included); rejects with a RelayError when it failed. */
  readonly done: Promise<AnswerResult>;
  readonly status: "waiting" | "streaming" | "done" | "error";
  readonly finished: boolean;
  readonly currentText: string;
  readonly model: string | null;
  readonly conversationId: string | null;
  readonly lastSeq: number;
  readonly terminal: DoneFrame | ErrorFrame | null;
  /** The final text (rejects with a RelayError when the answer failed). */
  text(): Promise<string>;
  /** Stop the answer: it ends with done, stopReason "cancelled". */
  cancel(): void;
  /** Every call iterates all events from the first. Leaving the loop early does not cancel the answer. */
  [Symbol.asyncIterator](): AsyncIterator<AnswerEvent>;
}

// ---- the client ----

export interface ModelInfo {
  id: string;
  provider: string;
  default: boolean;
}

export interface HistoryTurn {
  turn: number;
  role: "user" | "assistant";
  text: string;
  at: string;
  requestId?: string;
  status?: "complete" | "partial";
  stop?: string;
}

export interface History {
  conversationId: string;
  title: string;
  turns: HistoryTurn[];
}

export interface ConversationSummary {
  conversationId: string;
  title: string;
  updatedAt: string;
  turns: number;
}

export interface ConversationsPage {
  conversations: ConversationSummary[];
  /** Pass as `cursor` for the next page; null: no more. */
  next: string | null;
}

export interface TokenContext {
  /** Failed attempts since the last open connection (0 on the first try). */
  attempt: number;
  /** True when the previous attempt failed: a cached token may be the reason. */
  fresh: boolean;
}

export type TokenProvider = string | null | ((context: TokenContext) => string | null | Promise<string | null>);

/** Any WebSocket constructor with the browser API: the global one, or the `ws` package's. */
export type WebSocketConstructor = new (url: string) => {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
};

export interface RelayClientOptions {
  /** The WebSocket API's URL, stage included: wss://{api}.execute-api.{region}.amazonaws.com/{stage}. */
  url: string;
  /** Sent as the `token` query parameter; a function is called on every (re)connect. */
  token?: TokenProvider;
  /** Default: globalThis.WebSocket (browsers, Node ≥ 22). On Node 20 pass `(await import("ws")).WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect backoff: delay between half and all of min(maxDelayMs, baseDelayMs·2^(n-1)); after maxAttempts
   * failed attempts in a row everything in flight fails with `connection_failed`. Defaults 500, 15000, 8. */
  reconnect?: { baseDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  /** A connection not open after this long counts as a failed attempt. Default 10000. */
  connectTimeoutMs?: number;
}

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "failed" | "closed";

export interface RelayClientEvents {
  state: { state: ConnectionState; attempt: number; delayMs: number; error: unknown };
  open: { reconnected: boolean };
  frame: Frame;
  error: { error: RelayError };
}

export class RelayClient extends EventTarget {
  constructor(options: RelayClientOptions);
  readonly url: string;
  state: ConnectionState;
  readonly isOpen: boolean;
  /** The current WebSocket (diagnostics and tests only). */
  readonly socket: unknown;
  /** Answers in flight. */
  readonly answers: Answer[];
  connect(): Promise<void>;
  ask(options: AskOptions | string): Answer;
  models(): Promise<ModelInfo[]>;
  history(conversationId: string): Promise<History>;
  conversations(options?: { limit?: number; cursor?: string | null }): Promise<ConversationsPage>;
  close(): void;
  /** Lose the socket as a network failure would: reconnect and resume follow. */
  drop(): void;
  on<K extends keyof RelayClientEvents>(type: K, listener: (detail: RelayClientEvents[K]) => void): () => void;
  off<K extends keyof RelayClientEvents>(type: K, listener: (detail: RelayClientEvents[K]) => void): void;
}

export function newRequestId(): string;
export function mergeTurns(entries: HistoryTurn[]): HistoryTurn[];
