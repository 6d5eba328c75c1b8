// The bubbles of the transcript: a user's message (plain text, its attachments' thumbnails), and an answer that
// renders its Markdown as it streams, says when it waits, reconnects or stops, shows its error, and ends with a small
// line of usage and timing. Protocol v2: the model's reasoning streams into a collapsible "thinking" block above the
// text (plain text, never Markdown), and each tool call is a card that later shows the tool's result.

import { attachmentStrip } from "./attachments.js";
import { describeError, describeStop } from "./errors.js";
import { updateMarkdown } from "./markdown.js";

const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)");

export function userBubble(text, attachments = []) {
  const article = element("article", "message user");
  article.setAttribute("aria-label", "You");
  const bubble = element("div", "bubble");
  if (attachments.length) bubble.append(attachmentStrip(attachments));
  if (text) bubble.append(element("p", "plain", text)); // the user's own words: text, never Markdown or HTML
  article.append(bubble);
  return article;
}

export class AnswerView {
  constructor({ simulated = false, onRetry = null } = {}) {
    this.simulated = simulated;
    this.onRetry = onRetry;
    this.root = element("article", "message answer");
    this.root.setAttribute("aria-label", "Answer");
    this.bubble = element("div", "bubble");
    this.body = element("div", "markdown");
    this.status = element("p", "answer-status");
    this.error = element("div", "answer-error");
    this.error.hidden = true;
    this.meta = element("p", "answer-meta");
    this.thinking = null; // the <details> of the model's reasoning, made when the first reasoning arrives
    this.tools = element("div", "tool-calls");
    this.tools.hidden = true;
    this.bubble.append(this.body, this.tools, this.status, this.error);
    this.root.append(this.bubble, this.meta);
    this.target = "";
    this.shown = 0;
    this.frame = 0;
    this.countdown = null;
    this.stopRequested = false;
    this.setState("waiting");
  }

  setState(state) {
    this.root.dataset.state = state;
    this.body.setAttribute("aria-busy", String(state === "waiting" || state === "streaming"));
    if (state === "waiting") this.setStatus("waiting for the model…");
    if (state === "streaming") this.setStatus("");
  }

  setStatus(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  /** The answer's whole text so far; shown progressively, a few characters per animation frame, so that text
   * arriving in 50 ms bursts still reads as a steady stream. */
  setText(text) {
    this.target = text;
    if (reducedMotion.matches || document.hidden) return this.reveal(text.length);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.step());
  }

  step() {
    this.frame = 0;
    const backlog = this.target.length - this.shown;
    if (backlog <= 0) return;
    // Catch up by a quarter of the backlog per frame: a few frames behind at most, never a visible lag.
    this.reveal(this.shown + Math.max(2, Math.ceil(backlog / 4)));
    if (this.shown < this.target.length) this.frame = requestAnimationFrame(() => this.step());
  }

  reveal(count) {
    let end = Math.min(count, this.target.length);
    const code = this.target.charCodeAt(end - 1);
    if (code >= 0xd800 && code <= 0xdbff && end < this.target.length) end += 1; // never half an emoji
    this.shown = end;
    updateMarkdown(this.body, this.target.slice(0, end));
  }

  /** The reasoning so far: a collapsible block that is open while the model thinks and folds once it answers. */
  setReasoning(text, { redacted = false } = {}) {
    if (!this.thinking) {
      this.thinking = element("details", "thinking");
      this.thinking.open = true;
      this.thinkingSummary = element("summary", "thinking-summary", "Thinking…");
      this.thinkingText = element("p", "thinking-text");
      this.thinking.append(this.thinkingSummary, this.thinkingText);
      this.bubble.prepend(this.thinking);
    }
    this.thinkingText.textContent = text || (redacted ? "(the model's reasoning is redacted)" : "");
    this.thinking.dataset.state = "streaming";
  }

  /** The model moved on from reasoning (text, a tool call, or the end): the block folds, the reader may reopen it. */
  endReasoning() {
    if (!this.thinking || this.thinking.dataset.state === "done") return;
    this.thinking.dataset.state = "done";
    this.thinkingSummary.textContent = "Thoughts";
    this.thinking.open = false;
  }

  /** A tool call as a card: its name and input now, its result once the page ran it (`setToolResult`). */
  addToolCall({ toolUseId, name, input }) {
    this.endReasoning();
    const card = element("section", "tool-card");
    card.dataset.toolUseId = toolUseId;
    card.dataset.state = "called";
    card.setAttribute("aria-label", `Tool call ${name}`);
    card.append(element("p", "tool-title", `🔧 ${name}`), element("pre", "tool-input", JSON.stringify(input ?? {}, null, 2)));
    const result = element("p", "tool-result", "waiting for the answer to end…");
    card.append(result);
    this.tools.append(card);
    this.tools.hidden = false;
  }

  setToolResult(toolUseId, result) {
    const card = [...this.tools.children].find((c) => c.dataset.toolUseId === toolUseId);
    if (card) showToolResult(card, result);
  }

  /** Show everything now (the answer ended, or the view is being left). */
  flush() {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.reveal(this.target.length);
  }

  reconnecting(on) {
    if (!this.root.dataset.state.match(/waiting|streaming/)) return;
    this.root.classList.toggle("is-reconnecting", on);
    if (on) this.setStatus("reconnecting… the answer will continue where it left off");
    else if (this.stopRequested) this.stopping();
    else this.setState(this.root.dataset.state);
  }

  stopping() {
    this.stopRequested = true;
    this.setStatus("stopping…");
  }

  /** The `done` frame: a note when it ended early, and usage and timing underneath. */
  done(frame, model) {
    this.endReasoning();
    this.flush();
    const cancelled = frame.stopReason === "cancelled";
    this.setState(cancelled ? "stopped" : "done");
    this.setStatus(describeStop(frame.stopReason) || "");
    this.showMeta(frame, model);
  }

  /** An `error` frame, shown in the bubble under whatever text had arrived. */
  failed(frame, model) {
    this.endReasoning();
    this.flush();
    this.setState("error");
    this.setStatus("");
    const error = describeError(frame);
    this.root.dataset.errorCode = error.code;
    const title = element("strong", "error-title", error.title);
    const detail = element("span", "error-detail", error.detail);
    this.error.replaceChildren(title, " ", detail);
    if (error.retryAfter !== null) this.startCountdown(error.retryAfter);
    else if (error.retryable && this.onRetry) this.error.append(this.retryButton());
    this.error.hidden = false;
    if (model) this.showMeta(frame, model);
  }

  startCountdown(seconds) {
    const clock = element("span", "countdown");
    clock.setAttribute("role", "timer");
    this.error.append(" ", clock);
    const until = Date.now() + seconds * 1000;
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      if (left > 0) {
        clock.textContent = `Retry in ${left} s.`;
        // Tick on the whole seconds of the deadline, so the number never skips or lingers.
        this.countdown = setTimeout(tick, ((until - Date.now()) % 1000 || 1000) + 20);
        return;
      }
      clock.textContent = "You can retry now.";
      if (this.onRetry) this.error.append(" ", this.retryButton());
    };
    tick();
  }

  retryButton() {
    const button = element("button", "retry", "Retry");
    button.type = "button";
    button.addEventListener("click", () => {
      button.disabled = true;
      this.onRetry();
    });
    return button;
  }

  showMeta(frame, model) {
    const parts = [];
    if (model) parts.push(this.simulated ? `${model} (simulated)` : model);
    const usage = frame.usage;
    if (usage && (usage.inputTokens != null || usage.outputTokens != null)) {
      parts.push(`${usage.inputTokens ?? "?"} in / ${usage.outputTokens ?? "?"} out tokens`);
    }
    const firstTokenMs = frame.metrics?.firstTokenMs;
    if (firstTokenMs != null) parts.push(`first token ${Math.round(firstTokenMs)} ms`);
    const totalMs = frame.metrics?.totalMs;
    if (totalMs != null) parts.push(`total ${(totalMs / 1000).toFixed(1)} s`);
    this.meta.textContent = parts.join(" · ");
  }

  dispose() {
    cancelAnimationFrame(this.frame);
    clearTimeout(this.countdown);
  }
}

/** A tool call's result on its card: `→ content` (success) or `✗ content` (error). */
export function showToolResult(card, { status = "success", content }) {
  card.dataset.state = status;
  const shown = typeof content === "string" ? content : JSON.stringify(content);
  card.querySelector(".tool-result").textContent = `${status === "error" ? "✗" : "→"} ${shown}`;
}

/** An answer stored in a conversation's history: its reasoning and tool calls (protocol v2), text, and a note when
 * it was cut short. */
export function storedAnswerBubble(text, { status, stop, reasoning, toolUses }) {
  const view = new AnswerView();
  if (reasoning) {
    view.setReasoning(reasoning);
    view.endReasoning();
  }
  for (const call of toolUses ?? []) {
    view.addToolCall(call);
    view.tools.lastChild.querySelector(".tool-result").textContent = "";
  }
  view.target = text;
  view.flush();
  if (status === "partial") {
    view.setState(stop === "cancelled" ? "stopped" : "error");
    view.setStatus(stop === "cancelled" ? "Stopped." : `Cut short (${stop || "unknown"}).`);
  } else {
    view.setState("done");
    view.setStatus("");
  }
  return view.root;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
