// One answer's frames put back in order. The relay numbers an answer's frames 0, 1, 2... (`seq`); after a resume
// or a retried post a frame can come twice, so anything already seen is dropped and the text is built exactly
// once, in order. No DOM here: answer-view.js shows what this holds.

export class Answer {
  constructor({ requestId, prompt, model, conversationId }) {
    this.requestId = requestId;
    this.prompt = prompt;
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

  /** Take one frame of this answer; returns the frames applied, in order (none for a duplicate). */
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
        break;
    }
  }

  finish(frame) {
    this.terminal = frame;
    this.state = frame.type === "done" ? "done" : "error";
    this.early.clear();
  }
}

/** A fresh requestId in the relay's alphabet ([A-Za-z0-9_-], here 22 characters): sent with every request, so
 * even a refusal that comes before the relay accepts it names the answer it belongs to. */
export function newRequestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
