// What each error code of the protocol means to the person reading the answer (docs/protocol.md, `error`).

const TITLES = {
  bad_request: "Request refused",
  unknown_action: "Unknown action",
  throttled: "The model is busy (throttled)",
  upstream_unavailable: "The model is unreachable",
  model_error: "The model failed",
  rate_limited: "Rate limited",
  forbidden: "Not yours",
  not_found: "Not found",
  internal: "Relay error",
  connection_lost: "Connection lost",
  // The relay client's own (clients/js): no frame of the relay behind these.
  connection_failed: "Cannot reach the relay",
  message_too_big: "Message too big",
  closed: "Closed",
  upload_failed: "Upload failed",
};

const ADVICE = {
  throttled: "Try again in a moment.",
  upstream_unavailable: "Try again in a moment.",
  message_too_big:
    "The relay closed the connection over this message (frames over 32 KB close it); it was not sent again, and the chat stays connected.",
  connection_failed: "The page stopped trying; use Reconnect in the banner when the network is back.",
  connection_lost:
    "The connection was gone too long, so the relay stopped the answer; the text above is what was written before.",
};

/** `{code, title, detail, retryable, retryAfter}` for an error frame; `detail` names the offending field. */
export function describeError(frame) {
  const code = frame.code || "internal";
  const parts = [];
  if (frame.field) parts.push(`Field “${frame.field}”:`);
  if (frame.message) parts.push(frame.message);
  if (ADVICE[code]) parts.push(ADVICE[code]);
  if (code === "unknown_action" && Array.isArray(frame.actions)) {
    parts.push(`Valid actions: ${frame.actions.join(", ")}.`);
  }
  const retryAfter = Number.isFinite(frame.retryAfter) ? Math.max(0, frame.retryAfter) : null;
  return {
    code,
    title: TITLES[code] || `Error (${code})`,
    detail: parts.join(" "),
    retryable: Boolean(frame.retryable),
    retryAfter,
  };
}

const STOP_REASONS = {
  end_turn: null,
  max_tokens: "Stopped at the token limit.",
  stop_sequence: null,
  content_filtered: "Stopped by a content filter.",
  tool_use: "The model called a tool.",
  time_limit: "Stopped at the relay's time limit; the text so far is complete.",
  cancelled: "Stopped.",
};

/** A short note for how a finished answer ended, or null when it simply finished. */
export function describeStop(stopReason) {
  return stopReason in STOP_REASONS ? STOP_REASONS[stopReason] : `Ended: ${stopReason}.`;
}
