// The sidebar: the user's conversations, newest first, a page at a time ("More" asks for the next page with the
// cursor the relay gave). One request at a time: `conversations` frames carry no request id to match them by.

const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export class ConversationList {
  constructor({ list, empty, more, request, onOpen }) {
    this.list = list;
    this.empty = empty;
    this.more = more;
    this.request = request; // (message) => boolean: sent?
    this.onOpen = onOpen;
    this.next = null;
    this.pending = null; // "reload" | "more" while a page is on its way
    this.reloadWanted = false;
    this.activeId = null;
    more.addEventListener("click", () => this.loadMore());
  }

  /** Ask for the first page again (after connecting, after an answer ended). */
  reload() {
    if (this.pending) {
      this.reloadWanted = true;
      return;
    }
    if (this.request({ action: "conversations" })) this.pending = "reload";
  }

  loadMore() {
    if (this.pending || !this.next) return;
    if (this.request({ action: "conversations", cursor: this.next })) {
      this.pending = "more";
      this.more.disabled = true;
    }
  }

  /** A `conversations` frame. */
  receive(frame) {
    const append = this.pending === "more";
    this.pending = null;
    if (!append) this.list.replaceChildren();
    for (const summary of frame.conversations || []) this.list.append(this.item(summary));
    this.next = frame.next || null;
    this.more.hidden = !this.next;
    this.more.disabled = false;
    this.empty.hidden = this.list.childElementCount > 0;
    this.markActive();
    if (this.reloadWanted) {
      this.reloadWanted = false;
      this.reload();
    }
  }

  /** The connection dropped: whatever was asked will not be answered. */
  abandon() {
    this.pending = null;
    this.more.disabled = false;
  }

  setActive(conversationId) {
    this.activeId = conversationId;
    this.markActive();
  }

  item(summary) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "conversation";
    button.dataset.conversationId = summary.conversationId;
    const title = document.createElement("span");
    title.className = "conversation-title";
    title.textContent = summary.title || "Untitled";
    const detail = document.createElement("span");
    detail.className = "conversation-detail";
    const updated = Date.parse(summary.updatedAt);
    const turns = `${summary.turns ?? 0} turn${summary.turns === 1 ? "" : "s"}`;
    detail.textContent = Number.isNaN(updated) ? turns : `${when.format(updated)} · ${turns}`;
    button.append(title, detail);
    button.addEventListener("click", () => this.onOpen(summary.conversationId, summary.title));
    item.append(button);
    return item;
  }

  markActive() {
    for (const button of this.list.querySelectorAll("button.conversation")) {
      if (button.dataset.conversationId === this.activeId) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }
}
