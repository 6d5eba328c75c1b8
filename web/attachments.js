// The files waiting to go with the next message: picked with the attach button, dropped on the chat, or pasted.
// Each is checked before anything is uploaded (type, size, what the chosen model takes): a file that cannot go
// shows its error in the tray, one that can shows a thumbnail (images) or its name. The relay client uploads them
// when the message is sent (`relay.attach`, a presigned POST).

import { attachmentType, checkAttachment } from "./relay-client.js";

let nextId = 0;

export class AttachmentTray {
  /** `kinds()`: what the chosen model takes (null: unknown, the relay decides). */
  constructor({ list, input, button, dropZone, pasteTarget, kinds, onChange = () => {} }) {
    this.list = list;
    this.kinds = kinds;
    this.onChange = onChange;
    this.items = []; // {id, file, url, problem}
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      this.add(input.files);
      input.value = ""; // the same file may be picked again
    });
    dropZone.addEventListener("dragover", (event) => {
      if (!hasFiles(event.dataTransfer)) return;
      event.preventDefault();
      dropZone.classList.add("is-dropping");
    });
    dropZone.addEventListener("dragleave", () => dropZone.classList.remove("is-dropping"));
    dropZone.addEventListener("drop", (event) => {
      dropZone.classList.remove("is-dropping");
      if (!hasFiles(event.dataTransfer)) return;
      event.preventDefault();
      this.add(event.dataTransfer.files);
    });
    pasteTarget.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (!files.length) return; // plain text pastes as usual
      event.preventDefault();
      this.add(files);
    });
  }

  /** The files that can go (errors stay out). */
  get ready() {
    return this.items.filter((item) => !item.problem);
  }

  add(files) {
    for (const file of files) {
      const problem = checkAttachment(file, { kinds: this.kinds() });
      const image = attachmentType(file).startsWith("image/");
      const url = !problem && image ? URL.createObjectURL(file) : null;
      this.items.push({ id: ++nextId, file, url, problem });
    }
    this.render();
  }

  remove(id) {
    const item = this.items.find((i) => i.id === id);
    if (item?.url) URL.revokeObjectURL(item.url);
    this.items = this.items.filter((i) => i.id !== id);
    this.render();
  }

  /** Hand the files that can go to the message being sent, and empty the tray (errors included). The thumbnails'
   * URLs now belong to the message's bubble. */
  take() {
    const taken = this.ready.map(({ file, url }) => ({ file, url }));
    this.items = [];
    this.render();
    return taken;
  }

  render() {
    this.list.replaceChildren(...this.items.map((item) => this.itemNode(item)));
    this.list.hidden = this.items.length === 0;
    this.onChange();
  }

  itemNode(item) {
    const node = document.createElement("li");
    node.className = item.problem ? "attachment has-error" : "attachment";
    node.dataset.name = item.file.name;
    if (item.url) {
      const thumb = document.createElement("img");
      thumb.className = "thumbnail";
      thumb.src = item.url;
      thumb.alt = item.file.name;
      node.append(thumb);
    }
    const label = document.createElement("span");
    label.className = item.problem ? "attachment-error" : "attachment-name";
    label.textContent = item.problem ? item.problem.message : item.file.name;
    if (item.problem) label.setAttribute("role", "alert");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "attachment-remove";
    remove.textContent = "×";
    remove.setAttribute("aria-label", `Remove ${item.file.name}`);
    remove.addEventListener("click", () => this.remove(item.id));
    node.append(label, remove);
    return node;
  }
}

/** Thumbnails (images) and names (documents) of a message's attachments, for its bubble. */
export function attachmentStrip(files) {
  const strip = document.createElement("div");
  strip.className = "attachment-strip";
  for (const { file, url, fileName } of files) {
    const name = file?.name ?? fileName ?? "attachment";
    if (url) {
      const image = document.createElement("img");
      image.className = "thumbnail";
      image.src = url;
      image.alt = name;
      strip.append(image);
    } else {
      const chip = document.createElement("span");
      chip.className = "attachment-chip";
      chip.textContent = `📄 ${name}`;
      strip.append(chip);
    }
  }
  return strip;
}

function hasFiles(dataTransfer) {
  return Boolean(dataTransfer && [...dataTransfer.types].includes("Files"));
}
