// The one WebSocket to the relay, kept open: when it drops, it comes back by itself after an exponential backoff
// with jitter (so a relay that restarts is not hit by every client at once), with a fresh token when the last
// attempt failed before opening (an expired token looks exactly like that: browsers hide the 401).
//
// Events: "state" ({state: "connecting" | "open" | "reconnecting", attempt, delayMs}), "open" ({reconnected}),
// "frame" (one parsed JSON frame).

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;

export class RelayConnection extends EventTarget {
  constructor(wsUrl, tokens, { baseDelayMs = BASE_DELAY_MS, maxDelayMs = MAX_DELAY_MS } = {}) {
    super();
    this.wsUrl = wsUrl;
    this.tokens = tokens;
    this.baseDelayMs = baseDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.socket = null;
    this.attempt = 0; // failed attempts since the last open
    this.everOpened = false;
    this.retryTimer = null;
    this.state = "idle";
    this.generation = 0; // bumps on every attempt, so a token that arrives late cannot open a second socket
    // Back online after a network change: no point waiting out the backoff.
    addEventListener("online", () => {
      if (this.retryTimer) this.connectNow();
    });
  }

  get isOpen() {
    return this.socket?.readyState === WebSocket.OPEN;
  }

  /** Send one action; false (nothing sent) while the socket is not open. */
  send(message) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  start() {
    this.connectNow();
  }

  /** Close and open again at once, e.g. with another user's token. */
  restart() {
    this.everOpened = false;
    this.attempt = 0;
    this.tokens.forget?.();
    this.connectNow();
  }

  /** Lose the socket the way a network failure would (for tests and devtools): the reconnect follows. */
  drop() {
    this.socket?.close(4000, "dropped on purpose");
  }

  connectNow() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.detach();
    this.setState(this.everOpened ? "reconnecting" : "connecting");
    const generation = ++this.generation;
    this.open(generation).catch((error) => {
      if (generation === this.generation) this.failed(error);
    });
  }

  async open(generation) {
    const token = await this.tokens.token({ fresh: this.attempt > 0 });
    if (generation !== this.generation) return;
    const url = new URL(this.wsUrl, location.href);
    if (token) url.searchParams.set("token", token);
    const socket = new WebSocket(url);
    this.socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.setState("open");
      this.dispatchEvent(new CustomEvent("open", { detail: { reconnected } }));
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return; // not a frame of the protocol: nothing to show
      }
      if (frame && typeof frame === "object") this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return; // replaced on purpose
      this.socket = null;
      this.failed(opened ? null : new Error("the handshake failed"));
    });
  }

  failed(error) {
    if (error) console.warn("relay connection:", error.message || error);
    this.attempt += 1;
    // Full jitter between half and all of the exponential step; the first retry comes quickly.
    const step = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (this.attempt - 1));
    const delayMs = Math.round(step / 2 + Math.random() * (step / 2));
    this.setState(this.everOpened ? "reconnecting" : "connecting", delayMs);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connectNow(), delayMs);
  }

  detach() {
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, "reconnecting");
  }

  setState(state, delayMs = 0) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, attempt: this.attempt, delayMs } }));
  }
}
