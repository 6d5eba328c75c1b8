// The chat page: wires the connection, the composer, the model picker, the conversation list and the answers.
// Each concern lives in its own module; this one only decides what happens when.

import { Announcer } from "./announcer.js";
import { Answer, newRequestId } from "./answer.js";
import { AnswerView, storedAnswerBubble, userBubble } from "./answer-view.js";
import { DEV_USER, tokenSource } from "./auth.js";
import { loadConfig } from "./config.js";
import { RelayConnection } from "./connection.js";
import { ConversationList } from "./conversation-list.js";
import { describeError } from "./errors.js";
import { HistoryAssembler } from "./history.js";

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
};

const state = {
  config: null,
  connection: null,
  tokens: null,
  conversationId: null, // the conversation on screen (null: a new one, until its first answer starts)
  active: null, // the entry streaming in the conversation on screen
  answers: new Map(), // requestId → {answer, view, message, resuming, cancelWanted}
  modelsLoaded: false,
};
const announcer = new Announcer($("announcer"));
const history = new HistoryAssembler();
let conversations;

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
    request: (message) => state.connection.send(message),
    onOpen: openConversation,
  });
  wireComposer();
  wireUserSwitch();
  $("new-conversation").addEventListener("click", newConversation);
  $("banner-close").addEventListener("click", () => (ui.banner.hidden = true));
  followNewText();

  const connection = new RelayConnection(state.config.wsUrl, state.tokens);
  state.connection = connection;
  connection.addEventListener("state", (event) => onConnectionState(event.detail));
  connection.addEventListener("open", onOpen);
  connection.addEventListener("frame", (event) => onFrame(event.detail));
  connection.start();

  // For tests and devtools: lose the socket like a network failure would, and read the answers' state.
  window.relayChat = {
    drop: () => connection.drop(),
    answers: () =>
      [...state.answers.values()].map(({ answer }) => ({
        requestId: answer.requestId,
        state: answer.state,
        text: answer.text,
        lastSeq: answer.lastSeq,
        duplicates: answer.duplicates,
        terminal: answer.terminal,
      })),
  };
}

// Connection.

function onConnectionState({ state: connectionState }) {
  const labels = { connecting: "connecting…", open: "connected", reconnecting: "reconnecting…" };
  setStatus(connectionState, labels[connectionState] || connectionState);
  if (connectionState !== "open") conversations.abandon();
  for (const entry of state.answers.values()) {
    if (!entry.answer.finished) entry.view.reconnecting(connectionState !== "open");
  }
  updateComposer();
}

function onOpen() {
  if (state.tokens.user) $("signed-in").textContent = `Signed in as ${state.tokens.user}`;
  $("signed-in").hidden = !(state.config.auth.mode === "cognito" && state.tokens.user);
  if (!state.modelsLoaded) state.connection.send({ action: "models" });
  conversations.reload();
  if (history.conversationId) state.connection.send({ action: "history", conversationId: history.conversationId });
  // Answers still running continue from the last frame received: the relay replays the rest, then streams on.
  for (const entry of state.answers.values()) {
    if (entry.answer.finished) continue;
    entry.resuming = true;
    state.connection.send({ action: "resume", requestId: entry.answer.requestId, after: entry.answer.lastSeq });
    if (entry.cancelWanted && entry.answer.nextSeq > 0) sendCancel(entry);
  }
}

function onFrame(frame) {
  switch (frame.type) {
    case "models":
      return showModels(frame.models || []);
    case "conversations":
      return conversations.receive(frame);
    case "history": {
      const complete = history.receive(frame);
      if (complete) showHistory(complete);
      return;
    }
    default:
      break;
  }
  const entry = frame.requestId ? state.answers.get(frame.requestId) : undefined;
  const unnumbered = typeof frame.seq !== "number";
  if (!entry) {
    if (frame.type === "error") showError(frame);
    return;
  }
  if (frame.type === "error" && unnumbered) {
    if (entry.resuming && frame.code === "not_found" && entry.answer.nextSeq === 0) {
      // The socket died before the relay took the request: nothing to resume, so ask again.
      entry.resuming = false;
      state.connection.send(entry.message);
      return;
    }
    if (entry.answer.nextSeq > 0 && !entry.resuming) return showError(frame); // a refused cancel, not the answer
  }
  if (!unnumbered) entry.resuming = false;
  for (const applied of entry.answer.receive(frame)) onAnswerFrame(entry, applied);
}

function onAnswerFrame(entry, frame) {
  const { answer, view } = entry;
  const onScreen = entry === state.active;
  switch (frame.type) {
    case "start":
      view.setState("streaming");
      if (onScreen && !state.conversationId && answer.conversationId) {
        state.conversationId = answer.conversationId;
        conversations.setActive(state.conversationId);
      }
      if (entry.cancelWanted) sendCancel(entry);
      break;
    case "delta":
      view.setText(answer.text);
      if (onScreen) announcer.progress(answer.text);
      break;
    case "done":
    case "error":
      if (frame.type === "done") view.done(frame, answer.model);
      else view.failed(frame, answer.model);
      if (onScreen) {
        announcer.finish(answer.text, endingSummary(frame));
        state.active = null;
      }
      conversations.reload();
      updateComposer();
      break;
    default:
      break;
  }
}

function endingSummary(frame) {
  if (frame.type === "error") return `Error: ${describeError(frame).title}.`;
  return frame.stopReason === "cancelled" ? "Answer stopped." : "Answer complete.";
}

// Asking, stopping, retrying.

function ask(text) {
  if (state.active || !state.connection.isOpen) return false;
  const requestId = newRequestId();
  const message = { action: "sendtext", text, requestId };
  if (ui.model.value) message.model = ui.model.value;
  if (state.conversationId) message.conversationId = state.conversationId;
  const answer = new Answer({ requestId, prompt: text, model: message.model, conversationId: state.conversationId });
  const view = new AnswerView({ simulated: state.config.simulated, onRetry: () => retry(text) });
  const entry = { answer, view, message, resuming: false, cancelWanted: false };
  state.answers.set(requestId, entry);
  ui.welcome.hidden = true;
  ui.transcript.append(userBubble(text), view.root);
  scrollToEnd();
  state.active = entry;
  state.connection.send(message);
  announcer.start();
  updateComposer();
  return true;
}

function retry(text) {
  if (!ask(text)) showBanner("Wait for the current answer to end (or stop it), then retry.");
  ui.message.focus();
}

function stop() {
  const entry = state.active;
  if (!entry || entry.cancelWanted) return;
  entry.cancelWanted = true;
  entry.view.stopping();
  // Before `start` the relay may not know the request yet: the cancel goes out when it does (onAnswerFrame).
  if (entry.answer.nextSeq > 0) sendCancel(entry);
  ui.message.focus();
}

function sendCancel(entry) {
  state.connection.send({ action: "cancel", requestId: entry.answer.requestId });
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
  history.expect(conversationId);
  state.connection.send({ action: "history", conversationId });
}

function showHistory({ conversationId, turns }) {
  if (conversationId !== state.conversationId) return;
  ui.transcript.replaceChildren();
  for (const turn of turns) {
    const entry = turn.requestId ? state.answers.get(turn.requestId) : undefined;
    if (turn.role === "user") ui.transcript.append(userBubble(turn.text));
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
  history.expect(null);
  updateComposer();
}

// Models.

function showModels(models) {
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
}

// Composer and page chrome.

function wireComposer() {
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = ui.message.value;
    if (text.trim() && ask(text)) ui.message.value = "";
    ui.message.focus();
  });
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

function updateComposer() {
  const streaming = Boolean(state.active);
  ui.send.hidden = streaming;
  ui.stop.hidden = !streaming;
  ui.send.disabled = !state.connection?.isOpen;
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
    newConversation();
    $("conversation-list").replaceChildren();
    state.connection.restart();
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

function showError(frame) {
  const error = describeError(frame);
  showBanner(`${error.title}: ${error.detail}`);
}

function showBanner(text) {
  ui.bannerText.textContent = text;
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
