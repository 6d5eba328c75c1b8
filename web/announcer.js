// Tells screen-reader users how an answer is going through one aria-live="polite" region. Announcing every delta
// would flood the speech queue (tens of fragments a second), so the text goes out in whole sentences, at most
// once every INTERVAL_MS, and whatever is left when the answer ends.

const INTERVAL_MS = 1500;
const MAX_CHUNK = 400; // a sentence-less wall of text still goes out, a piece at a time
const SENTENCE_END = /[.!?…:;](?=\s)|\n/g;

export class Announcer {
  constructor(region, { intervalMs = INTERVAL_MS } = {}) {
    this.region = region;
    this.intervalMs = intervalMs;
    this.spoken = 0; // characters of the current answer already announced
    this.text = "";
    this.timer = null;
    this.lastAt = 0;
  }

  say(message) {
    // A new node per message: screen readers announce additions, and old ones are pruned to keep it small.
    const line = document.createElement("p");
    line.textContent = message;
    this.region.append(line);
    while (this.region.childElementCount > 3) this.region.firstElementChild.remove();
    this.lastAt = performance.now();
  }

  /** A new answer begins. */
  start() {
    this.stopTimer();
    this.spoken = 0;
    this.text = "";
    this.say("Answer started.");
  }

  /** The answer's text so far; announced later, in sentences, when the interval allows. */
  progress(text) {
    this.text = text;
    if (this.timer) return;
    const wait = Math.max(0, this.intervalMs - (performance.now() - this.lastAt));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush(false);
    }, wait);
  }

  /** The answer ended: announce the rest, then how it ended. */
  finish(text, summary) {
    this.stopTimer();
    this.text = text;
    this.flush(true);
    if (summary) this.say(summary);
  }

  flush(everything) {
    const pending = this.text.slice(this.spoken);
    let cut = everything ? pending.length : lastSentenceEnd(pending);
    if (!everything && cut === 0 && pending.length > MAX_CHUNK) {
      cut = pending.lastIndexOf(" ", MAX_CHUNK) + 1 || MAX_CHUNK;
    }
    const piece = pending.slice(0, cut).trim();
    this.spoken += cut;
    if (piece) this.say(piece);
  }

  stopTimer() {
    clearTimeout(this.timer);
    this.timer = null;
  }
}

function lastSentenceEnd(text) {
  let end = 0;
  for (const match of text.matchAll(SENTENCE_END)) end = match.index + match[0].length;
  return end;
}
