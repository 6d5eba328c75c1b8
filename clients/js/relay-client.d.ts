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
  /** Client: API Gateway closed the connection (1009) over this request's message; it is never sent again. Also a
   * message that no split into parts can fit (more than 64 parts, or its other fields alone over a frame). */
  | "message_too_big"
  /** Client: `close()` was called. */
  | "closed"
  /** Client: the multipart POST of `attach()` failed. */
  | "upload_failed"
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
/** The most one message takes on the wire (JSON, UTF-8); a longer sendtext goes out as parts. */
export const FRAME_BUDGET_BYTES: number;
/** At most this many parts per sendtext. */
export const MAX_PARTS: number;
/** Content type → what the relay accepts for it. */
export const ATTACHMENT_TYPES: Readonly<Record<string, { kind: "image" | "document"; maxBytes: number }>>;

export interface RelayErrorOptions {
  code?: RelayErrorCode;
  retryable?: boolean;
  retryAfter?: number | null;
  field?: string | null;
  requestId?: string | null;
  actions?: string[] | null;
  reason?: AttachmentProblem["reason"] | null;
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
  /** A file `attach()` refused before uploading it. */
  reason: AttachmentProblem["reason"] | null;
  /** The relay's error frame, when the relay sent one. */
  frame: ErrorFrame | null;
  static fromFrame(frame: ErrorFrame): RelayError;
}

// ---- frames (the wire, docs/protocol.md) ----

export interface Usage {
  inputTokens: number | null;
  outputTokens: number | null;
  /** Protocol v2: prompt-cache tokens (null when the upstream does not say). */
  cacheReadInputTokens?: number | null;
  cacheWriteInputTokens?: number | null;
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

export interface ReasoningFrame {
  type: "reasoning";
  requestId: string;
  seq: number;
  text?: string;
  redacted?: boolean;
}

export interface ToolUseFrame {
  type: "tool_use";
  requestId: string;
  seq: number;
  toolUseId: string;
  name: string;
  input: Record<string, unknown>;
}

export interface UploadFrame {
  type: "upload";
  attachmentId: string;
  url: string;
  fields: Record<string, string>;
  expiresIn: number;
}

/** Any frame: one of the protocol's, or one of a later version this client passes through untouched. */
export type Frame =
  | StartFrame
  | DeltaFrame
  | ReasoningFrame
  | ToolUseFrame
  | DoneFrame
  | ErrorFrame
  | UploadFrame
  | { type: string; [key: string]: unknown };

// ---- answers ----

/** A tool the model may call (protocol v2): the caller runs it and sends the result back in `toolResults`. */
export interface Tool {
  /** `[A-Za-z0-9_-]{1,64}`, unique within a request. */
  name: string;
  description?: string;
  /** A JSON Schema object (`"type": "object"`). */
  inputSchema: Record<string, unknown>;
}

export type ToolChoice = "auto" | "any" | "none" | { name: string };

export interface ToolResult {
  toolUseId: string;
  content: unknown;
  status?: "success" | "error";
}

/** What `ask()` accepts: the sendtext fields of docs/protocol.md. Parts (`part`/`parts`) are the client's business. */
export interface AskOptions {
  /** Required unless `toolResults` is given. Any length the relay allows: over a frame it goes out in parts. */
  text?: string;
  model?: string;
  conversationId?: string;
  system?: string;
  maxTokens?: number;
  temperature?: number;
  /** `[A-Za-z0-9_-]{1,64}`; made by the client when absent. */
  requestId?: string;
  tools?: Tool[];
  toolChoice?: ToolChoice;
  /** The results of the previous answer's tool calls (needs `conversationId`). */
  toolResults?: ToolResult[];
  reasoning?: boolean | { budgetTokens: number };
  /** `attachmentId`s from `attach()`. */
  attachments?: string[];
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

/** The model's reasoning (protocol v2), never part of the answer's text; `redacted`: reasoning withheld. */
export interface ReasoningEvent {
  type: "reasoning";
  text: string;
  redacted: boolean;
}

/** A tool call: run it, then `ask({conversationId, toolResults: [{toolUseId, content}]})` (protocol v2). */
export interface ToolUseEvent {
  type: "toolUse";
  toolUseId: string;
  name: string;
  input: Record<string, unknown>;
}

export interface ToolUse {
  toolUseId: string;
  name: string;
  input: Record<string, unknown>;
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

/** The events of one answer, in order: start, then text, reasoning and toolUse as they come, then exactly one done
 * or error. Discriminated by `type`. */
export type AnswerEvent = StartEvent | TextEvent | ReasoningEvent | ToolUseEvent | DoneEvent | ErrorEvent;

export interface AnswerResult {
  requestId: string;
  text: string;
  reasoning: string;
  /** The tool calls; with `stopReason: "tool_use"` the model waits for their results. */
  toolUses: ToolUse[];
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
  reasoning: string;
  reasoningRedacted: boolean;
  toolUses: ToolUse[];
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
  /** The sendtext message as asked. */
  readonly message: { action: "sendtext"; text?: string; requestId: string } & Omit<AskOptions, "text" | "requestId">;
  /** What goes on the wire: the message, or its parts (`part`, `parts`). */
  readonly messages: Array<Answer["message"] & { part?: number; parts?: number }>;
  readonly frames: AnswerState;
  /** Resolves when the answer is done (cancelled included); rejects with a RelayError when it failed. */
  readonly done: Promise<AnswerResult>;
  readonly status: "waiting" | "streaming" | "done" | "error";
  readonly finished: boolean;
  readonly currentText: string;
  readonly currentReasoning: string;
  readonly toolUses: ToolUse[];
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
  /** Protocol v2: what the model takes (absent from a v1 relay). */
  tools?: boolean;
  reasoning?: boolean;
  attachments?: Array<"image" | "document">;
}

export interface Attachment {
  attachmentId: string;
  fileName: string;
  contentType: string;
  size: number;
  expiresIn: number | null;
}

export interface AttachmentProblem {
  reason: "wrong_type" | "too_big" | "empty";
  message: string;
}

export interface HistoryTurn {
  turn: number;
  role: "user" | "assistant";
  text: string;
  at: string;
  requestId?: string;
  status?: "complete" | "partial";
  stop?: string;
  /** Protocol v2. */
  toolUses?: ToolUse[];
  toolResults?: ToolResult[];
  reasoning?: string;
  attachments?: Array<{ attachmentId: string; fileName?: string; contentType?: string; size?: number }>;
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
   * failed attempts in a row everything in flight fails with `connection_failed`. A connection counts as good (the
   * count starts again) once a frame arrived on it or it stayed open `stableAfterMs`: one closed right after opening
   * is a failed attempt, so there is never a reconnect loop. Defaults 500, 15000, 8, 10000. */
  reconnect?: { baseDelayMs?: number; maxDelayMs?: number; maxAttempts?: number; stableAfterMs?: number };
  /** A connection not open after this long counts as a failed attempt. Default 10000. */
  connectTimeoutMs?: number;
  /** A sendtext over this many bytes goes out in parts. Default FRAME_BUDGET_BYTES; null: never split. */
  frameBudgetBytes?: number | null;
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
  /** Upload a file (presigned POST) for `ask({attachments: [attachmentId]})`. `kinds`: what the model takes. */
  attach(
    file: Blob,
    options?: { fileName?: string; contentType?: string; kinds?: Array<"image" | "document"> | null },
  ): Promise<Attachment>;
  close(): void;
  /** Lose the socket as a network failure would: reconnect and resume follow. */
  drop(): void;
  on<K extends keyof RelayClientEvents>(type: K, listener: (detail: RelayClientEvents[K]) => void): () => void;
  off<K extends keyof RelayClientEvents>(type: K, listener: (detail: RelayClientEvents[K]) => void): void;
}

export function newRequestId(): string;
/** The bytes of a message on the wire (JSON, UTF-8). */
export function messageBytes(message: unknown): number;
/** The message, or its parts, none over `budget` bytes; throws a `message_too_big` RelayError when none fit. */
export function splitSendtext<M extends { text?: string; requestId?: string }>(
  message: M,
  budget?: number,
): Array<M & { part?: number; parts?: number }>;
export function attachmentType(file: { type?: string; name?: string }): string;
export function checkAttachment(
  file: { type?: string; name?: string; size?: number },
  options?: { kinds?: Array<"image" | "document"> | null },
): AttachmentProblem | null;
export function mergeTurns(entries: HistoryTurn[]): HistoryTurn[];
