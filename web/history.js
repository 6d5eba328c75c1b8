// A conversation's `history` frames put back together. A long history spans several frames (the last has
// `final: true`), and a turn too long for one frame arrives as several entries with the same `turn` number,
// whose texts concatenate in order.

export class HistoryAssembler {
  constructor() {
    this.conversationId = null;
    this.entries = [];
  }

  /** Expect the history of `conversationId`; frames of any other (an earlier click) are ignored. */
  expect(conversationId) {
    this.conversationId = conversationId;
    this.entries = [];
  }

  /** Take one frame; returns the whole history `{conversationId, title, turns}` once the final frame is in. */
  receive(frame) {
    if (!this.conversationId || frame.conversationId !== this.conversationId) return null;
    this.entries.push(...(frame.turns || []));
    if (!frame.final) return null;
    const history = { conversationId: this.conversationId, title: frame.title || "", turns: mergeTurns(this.entries) };
    this.expect(null);
    return history;
  }
}

export function mergeTurns(entries) {
  const turns = [];
  for (const entry of entries) {
    const last = turns[turns.length - 1];
    if (last && last.turn === entry.turn) last.text += entry.text || "";
    else turns.push({ ...entry, text: entry.text || "" });
  }
  return turns;
}
