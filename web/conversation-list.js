// The sidebar: the user's conversations, newest first, a page at a time ("More" asks for the next page with the
// cursor the relay gave). One request at a time, so a reload never races a page of More.

const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export class ConversationList {
  constructor({ list, empty, more, load, onOpen, onError = () => {} }) {
    this.list = list;
    this.empty = empty;
    this.more = more;
    this.load = load; // (cursor|null) => Promise<{conversations, next}>: the relay client's conversations()
    this.onOpen = onOpen;
    this.onError = onError;
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
    this.fetch("reload", null);
  }

  loadMore() {
    if (this.pending || !this.next) return;
    this.more.disabled = true;
    this.fetch("more", this.next);
  }

  fetch(kind, cursor) {
    this.pending = kind;
    this.load(cursor).then(
      (page) => this.receive(page),
      (error) => {
        this.pending = null;
        this.more.disabled = false;
        if (error?.code !== "closed") this.onError(error);
      },
    );
  }

  /** A page: `{conversations, next}`. */
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
