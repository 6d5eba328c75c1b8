// The chat page: wires the relay client, the composer, the model picker, the conversation list and the answers.
// The protocol itself (the socket, reconnect and resume, frames in seq order, requests and their answers) is the
// relay client's: clients/js (@ws-llm-relay/client), served beside this file as relay-client.js. This module only
// decides what the page shows when.

import { Announcer } from "./announcer.js";
import { AnswerView, showToolResult, storedAnswerBubble, userBubble } from "./answer-view.js";
import { AttachmentTray } from "./attachments.js";
import { DEV_USER, tokenSource } from "./auth.js";
import { loadConfig } from "./config.js";
import { ConversationList } from "./conversation-list.js";
import { describeError } from "./errors.js";
import { RelayClient } from "./relay-client.js";
import { TOOLS, runTool } from "./tools.js";

// Reconnecting backs off (0.5 s doubling to 15 s, with jitter) and gives up after 10 attempts in a row — about a
// minute and a half — with a banner and a Reconnect button: never a loop, whatever closes the connection. A
// connection that is closed before the relay answered on it counts as a failed attempt (the relay client's rule).
// config.json may override it (`reconnect`), as the browser tests do.
const RECONNECT = { baseDelayMs: 500, maxDelayMs: 15_000, maxAttempts: 10 };
// Tool calls answered by the page in a row, at most: a model that keeps calling tools is stopped there.
const MAX_TOOL_ROUNDS = 5;

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"),
  banner: $("banner"),
  bannerText: $("banner-text"),
  transcript: $("transcript"),
  welcome: $("welcome"),
  composer: $("composer"),
  message: $("message"),
  model: $("model"),
  send: $("send"),
  stop: $("stop"),
  reasoning: $("reasoning"),
  useTools: $("use-tools"),
  bannerAction: $("banner-action"),
};

const state = {
  config: null,
  relay: null,
  tokens: null,
  conversationId: null, // the conversation on screen (null: a new one, until its first answer starts)
  active: null, // the entry streaming in the conversation on screen
  answers: new Map(), // requestId → {answer, view}: the page's answers (the relay client's Answer objects)
  modelsLoaded: false,
  models: [], // the `models` frame's entries: what each model takes (tools, reasoning, attachments)
  historyWanted: null, // the conversation whose history is on its way
};
const announcer = new Announcer($("announcer"));
let conversations;
let tray;

async function main() {
  try {
    state.config = await loadConfig();
    state.tokens = tokenSource(state.config.auth, { askForCredentials });
  } catch (error) {
    setStatus("offline", "not configured");
    showBanner(`The chat cannot start: ${error.message}`);
    return;
  }
  $("simulated-badge").hidden = !state.config.simulated;
  conversations = new ConversationList({
    list: $("conversation-list"),
    empty: $("conversations-empty"),
    more: $("more-conversations"),
    load: (cursor) => state.relay.conversations(cursor ? { cursor } : {}),
    onOpen: openConversation,
    onError: showError,
  });
  wireComposer();
  wireAttachments();
  wireUserSwitch();
  $("new-conversation").addEventListener("click", newConversation);
  $("banner-close").addEventListener("click", () => (ui.banner.hidden = true));
  followNewText();

  connect();

  // For tests and devtools: lose the socket like a network failure would, and read the answers' state.
  window.relayChat = {
    drop: () => state.relay.drop(),
    models: () => state.models,
    answers: () =>
      [...state.answers.values()].map(({ answer }) => ({
        requestId: answer.requestId,
        state: answer.status,
        text: answer.currentText,
        reasoning: answer.currentReasoning,
        toolUses: answer.toolUses,
        lastSeq: answer.lastSeq,
        duplicates: answer.frames.duplicates,
        terminal: answer.terminal,
      })),
  };
}

// Connection.

function connect() {
  const relay = new RelayClient({
    url: new URL(state.config.wsUrl, location.href).toString(),
    // Called on every (re)connect; `fresh` after a failed attempt (browsers hide a 401: it may be an expired token).
    token: (context) => state.tokens.token(context),
    reconnect: { ...RECONNECT, ...(state.config.reconnect ?? {}) },
  });
  state.relay = relay;
  relay.on("state", (detail) => relay === state.relay && onConnectionState(detail));
  relay.on("open", () => relay === state.relay && onOpen());
  // Errors that belong to no request the page made (a refused cancel, ...) go to the banner.
  relay.on("error", ({ error }) => relay === state.relay && showError(error));
  relay.connect().catch(() => {}); // a failure shows as the `failed` state: the offline banner
}

function onConnectionState({ state: connectionState, error }) {
  const labels = { connecting: "connecting…", open: "connected", reconnecting: "reconnecting…", failed: "offline" };
  setStatus(connectionState === "failed" ? "offline" : connectionState, labels[connectionState] || connectionState);
  if (connectionState === "failed") {
    // The relay client gave up (bounded attempts): say so, and let the reader try again when they choose.
    showBanner(`Cannot reach the relay: ${error?.message ?? "the connection kept failing"}.`, {
      label: "Reconnect",
      run: () => state.relay.connect().catch(() => {}),
    });
  } else if (connectionState === "open" && ui.bannerAction.dataset.kind === "Reconnect") {
    ui.banner.hidden = true;
  }
  for (const entry of state.answers.values()) {
    if (!entry.answer.finished) entry.view.reconnecting(connectionState !== "open");
  }
  updateComposer();
}

function onOpen() {
  if (state.tokens.user) $("signed-in").textContent = `Signed in as ${state.tokens.user}`;
  $("signed-in").hidden = !(state.config.auth.mode === "cognito" && state.tokens.user);
  // Answers in flight and requests not answered yet are resumed and asked again by the relay client itself.
  if (!state.modelsLoaded) {
    state.relay.models().then(showModels, (error) => error.code !== "closed" && showError(error));
  }
  conversations.reload();
}

/** Show an answer's events as they come: the relay client gives them in order, once each, across reconnects. */
async function follow(entry) {
  for await (const event of entry.answer) {
    if (state.answers.get(entry.answer.requestId) !== entry) return; // another user's, no longer on this page
    onAnswerEvent(entry, event);
  }
}

function onAnswerEvent(entry, event) {
  const { answer, view } = entry;
  const onScreen = entry === state.active;
  switch (event.type) {
    case "start":
      view.setState("streaming");
      if (onScreen && !state.conversationId && answer.conversationId) {
        state.conversationId = answer.conversationId;
        conversations.setActive(state.conversationId);
      }
      break;
    case "text":
      view.endReasoning();
      view.setText(answer.currentText);
      if (onScreen) announcer.progress(answer.currentText);
      break;
    case "reasoning":
      view.setReasoning(answer.currentReasoning, { redacted: event.redacted });
      break;
    case "toolUse":
      view.addToolCall(event);
      break;
    case "done":
    case "error": {
      // The frame the relay sent, or (an error of the client's own: connection_failed, message_too_big) the error.
      const terminal = event.type === "done" ? answer.terminal : event.error.frame ?? event.error;
      if (event.type === "done") view.done(terminal, answer.model);
      else view.failed(terminal, answer.model);
      if (onScreen) {
        announcer.finish(answer.currentText, endingSummary(event));
        state.active = null;
      }
      conversations.reload();
      updateComposer();
      if (event.type === "done" && event.stopReason === "tool_use" && onScreen) runTools(entry);
      break;
    }
    default:
      break; // event types of later protocol versions
  }
}

function endingSummary(event) {
  if (event.type === "error") return `Error: ${describeError(event.error).title}.`;
  return event.stopReason === "cancelled" ? "Answer stopped." : "Answer complete.";
}

// Asking, stopping, retrying.

/** Ask the model: `text` (any length: the relay client sends a long one in parts), with the files of the tray
 * (uploaded first), or — `toolResults` — the results of the tool calls of the previous answer. */
function ask(text, { files = [], toolResults = null, toolRound = 0 } = {}) {
  if (state.active || !state.relay.isOpen) return false;
  const again = toolResults ? () => ask("", { toolResults, toolRound }) : () => retry(text);
  const view = new AnswerView({ simulated: state.config.simulated, onRetry: again });
  const entry = { answer: null, view, toolRound };
  state.active = entry;
  ui.welcome.hidden = true;
  if (toolResults) ui.transcript.append(view.root);
  else ui.transcript.append(userBubble(text, files), view.root);
  scrollToEnd();
  announcer.start();
  updateComposer();
  const request = {
    text: toolResults ? undefined : text,
    toolResults: toolResults ?? undefined,
    model: ui.model.value || undefined,
    conversationId: state.conversationId || undefined,
    reasoning: ui.reasoning.checked && !ui.reasoning.disabled ? true : undefined,
    tools: ui.useTools.checked && !ui.useTools.disabled ? TOOLS : undefined,
  };
  if (files.length) upload(entry, files, request);
  else start(entry, request);
  return true;
}

/** Every request carries a requestId (the relay client makes one), so even a refusal names its bubble. */
function start(entry, request) {
  const answer = state.relay.ask(request);
  entry.answer = answer;
  state.answers.set(answer.requestId, entry);
  follow(entry);
}

/** The message's files go first, each a presigned POST; the message follows with their ids. */
async function upload(entry, files, request) {
  const ids = [];
  try {
    for (const [index, { file }] of files.entries()) {
      entry.view.setStatus(`uploading ${file.name} (${index + 1} of ${files.length})…`);
      const kinds = selectedModel()?.attachments ?? null;
      ids.push((await state.relay.attach(file, { kinds })).attachmentId);
    }
  } catch (error) {
    entry.view.failed(error.frame ?? error, null);
    if (state.active === entry) state.active = null;
    announcer.finish("", `Error: ${error.message}`);
    updateComposer();
    return;
  }
  if (state.active !== entry) return; // the reader left (another conversation, another user)
  start(entry, { ...request, attachments: ids });
}

/** The answer stopped for `tool_use`: run each call here, show its result on its card, and send the results. */
function runTools(entry) {
  const calls = entry.answer.toolUses;
  if (!calls.length) return;
  if (entry.toolRound >= MAX_TOOL_ROUNDS) {
    entry.view.setStatus(`Stopped after ${MAX_TOOL_ROUNDS} tool calls in a row.`);
    return;
  }
  const toolResults = calls.map((call) => {
    const result = runTool(call);
    entry.view.setToolResult(call.toolUseId, result);
    return { toolUseId: call.toolUseId, ...result };
  });
  state.conversationId = entry.answer.conversationId ?? state.conversationId;
  const sent = ask("", { toolResults, toolRound: entry.toolRound + 1 });
  entry.view.setStatus(sent ? "Tool results sent back to the model." : "The tool results could not be sent (offline).");
}

function retry(text) {
  if (!ask(text)) showBanner("Wait for the current answer to end (or stop it), then retry.");
  ui.message.focus();
}

function stop() {
  const entry = state.active;
  if (!entry || !entry.answer || entry.answer.cancelWanted) return;
  entry.view.stopping();
  // Before `start` the relay may not know the request yet: the client sends the cancel when it does.
  entry.answer.cancel();
  ui.message.focus();
}

// Conversations.

function newConversation() {
  leaveConversation();
  state.conversationId = null;
  conversations.setActive(null);
  ui.transcript.replaceChildren(ui.welcome);
  ui.welcome.hidden = false;
  ui.message.focus();
}

function openConversation(conversationId) {
  leaveConversation();
  state.conversationId = conversationId;
  conversations.setActive(conversationId);
  const loading = document.createElement("p");
  loading.className = "muted loading";
  loading.textContent = "Loading the conversation…";
  ui.transcript.replaceChildren(loading);
  state.historyWanted = conversationId;
  state.relay.history(conversationId).then(
    (history) => state.historyWanted === conversationId && showHistory(history),
    (error) => {
      if (state.historyWanted === conversationId && error.code !== "closed") showError(error);
    },
  );
}

function showHistory({ conversationId, turns }) {
  if (conversationId !== state.conversationId) return;
  ui.transcript.replaceChildren();
  for (const turn of turns) {
    const entry = turn.requestId ? state.answers.get(turn.requestId) : undefined;
    if (turn.role === "user" && turn.toolResults?.length) {
      // Tool results are the page's own turn: shown on the cards of the calls they answer, not as a message.
      for (const result of turn.toolResults) {
        const card = [...ui.transcript.querySelectorAll(".tool-card")].find((c) => c.dataset.toolUseId === result.toolUseId);
        if (card) showToolResult(card, result);
      }
      if (!turn.text) continue;
    }
    if (turn.role === "user") ui.transcript.append(userBubble(turn.text, turn.attachments ?? []));
    else if (entry?.answer.finished) ui.transcript.append(entry.view.root); // seen live: keeps its usage line
    else if (!entry) ui.transcript.append(storedAnswerBubble(turn.text, turn));
  }
  // An answer of this conversation still streaming (the user looked elsewhere meanwhile) comes back on screen.
  for (const entry of state.answers.values()) {
    if (!entry.answer.finished && entry.answer.conversationId === conversationId) {
      ui.transcript.append(entry.view.root);
      state.active = entry;
    }
  }
  announcer.say(`Conversation loaded, ${turns.length} turns.`);
  updateComposer();
  scrollToEnd();
}

function leaveConversation() {
  // An answer still streaming keeps going (and is stored) while another conversation is on screen.
  if (state.active) state.active.view.flush();
  state.active = null;
  announcer.stopTimer();
  state.historyWanted = null;
  updateComposer();
}

// Models.

function showModels(models) {
  state.models = models;
  const previous = ui.model.value;
  ui.model.replaceChildren();
  for (const model of models) {
    const option = document.createElement("option");
    option.value = model.id;
    const where = state.config.simulated ? `${model.provider}, simulated` : model.provider;
    option.textContent = `${model.id}${model.default ? " (default)" : ""} · ${where}`;
    option.selected = previous ? model.id === previous : Boolean(model.default);
    ui.model.append(option);
  }
  ui.model.disabled = models.length === 0;
  state.modelsLoaded = models.length > 0;
  showCapabilities();
}

function selectedModel() {
  return state.models.find((m) => m.id === ui.model.value) ?? null;
}

/** Think first / the clock tool only for a model that says it can (a relay of protocol v1 says nothing: off). */
function showCapabilities() {
  const model = selectedModel();
  ui.reasoning.disabled = model?.reasoning !== true;
  ui.useTools.disabled = model?.tools !== true;
  if (ui.useTools.disabled) ui.useTools.checked = false;
  if (ui.reasoning.disabled) ui.reasoning.checked = false;
}

// Composer and page chrome.

function wireComposer() {
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.message.value;
    const hasFiles = tray.ready.length > 0;
    if ((text.trim() || hasFiles) && !state.active && state.relay.isOpen) {
      ask(text, { files: tray.take() });
      ui.message.value = "";
    }
    ui.message.focus();
  });
  ui.model.addEventListener("change", showCapabilities);
  ui.message.addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter is a new line; Enter that confirms an IME composition is neither.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.composer.requestSubmit();
    }
  });
  ui.stop.addEventListener("click", stop);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.active && !$("sign-in").open) stop();
  });
}

function wireAttachments() {
  tray = new AttachmentTray({
    list: $("attachments"),
    input: $("attach-input"),
    button: $("attach"),
    dropZone: document.querySelector("main.chat"),
    pasteTarget: ui.message,
    kinds: () => selectedModel()?.attachments ?? null,
  });
}

function updateComposer() {
  const streaming = Boolean(state.active);
  ui.send.hidden = streaming;
  ui.stop.hidden = !streaming;
  ui.send.disabled = !state.relay?.isOpen;
  ui.composer.dataset.streaming = String(streaming);
}

function wireUserSwitch() {
  if (state.config.auth.mode !== "dev") return;
  const form = $("dev-user-form");
  const input = $("dev-user");
  form.hidden = false;
  input.value = state.tokens.user;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const user = input.value.trim();
    if (!DEV_USER.test(user)) return showBanner("A user is 1-128 characters of A-Z a-z 0-9 _ . @ -");
    if (user === state.tokens.user) return;
    state.tokens.setUser(user);
    // Another user's answers and conversations are not this one's to resume or list.
    state.answers.clear();
    state.active = null;
    state.modelsLoaded = false;
    newConversation();
    $("conversation-list").replaceChildren();
    const previous = state.relay;
    connect(); // a new client: the old one's answers are not this user's to resume
    previous.close();
    announcer.say(`Switched to user ${user}.`);
  });
}

function askForCredentials(attempt) {
  const dialog = $("sign-in");
  const form = $("sign-in-form");
  const error = $("sign-in-error");
  // Without a token there is nothing this page can do: the dialog stays until a sign-in succeeds.
  dialog.addEventListener("cancel", (event) => event.preventDefault());
  return new Promise((resolve) => {
    form.onsubmit = async (event) => {
      event.preventDefault();
      const submit = form.querySelector("button[type=submit]");
      const username = $("sign-in-user").value.trim();
      error.textContent = "";
      submit.disabled = true;
      try {
        const result = await attempt(username, $("sign-in-password").value);
        $("sign-in-password").value = "";
        dialog.close();
        resolve({ username, result });
      } catch (failure) {
        error.textContent = `Sign-in failed: ${failure.message}`;
      } finally {
        submit.disabled = false;
      }
    };
    if (!dialog.open) dialog.showModal();
  });
}

function setStatus(name, text) {
  ui.status.dataset.state = name;
  ui.status.textContent = text;
}

function showError(frameOrError) {
  // Requests refused because the client gave up on the connection: the offline banner (with Reconnect) says it.
  if (frameOrError.code === "connection_failed" && state.relay?.state === "failed") return;
  const error = describeError(frameOrError);
  showBanner(`${error.title}: ${error.detail}`);
}

/** A message over the page; `action` (`{label, run}`) adds a button, e.g. Reconnect. */
function showBanner(text, action = null) {
  ui.bannerText.textContent = text;
  ui.bannerAction.hidden = !action;
  ui.bannerAction.dataset.kind = action?.label ?? "";
  ui.bannerAction.textContent = action?.label ?? "";
  ui.bannerAction.onclick = action
    ? () => {
        ui.banner.hidden = true;
        action.run();
      }
    : null;
  ui.banner.hidden = false;
}

// Keep the newest text in view while the reader is at the bottom; leave them be when they scrolled up to read.
let nearBottom = true;
function followNewText() {
  ui.transcript.addEventListener("scroll", () => {
    const { scrollHeight, scrollTop, clientHeight } = ui.transcript;
    nearBottom = scrollHeight - scrollTop - clientHeight < 80;
  });
  new MutationObserver(() => {
    if (nearBottom) scrollToEnd();
  }).observe(ui.transcript, { childList: true, subtree: true, characterData: true });
}

function scrollToEnd() {
  ui.transcript.scrollTop = ui.transcript.scrollHeight;
}

main();
