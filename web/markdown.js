// A small Markdown subset rendered straight into DOM nodes. Model output is untrusted: nothing here ever parses
// HTML (no innerHTML anywhere), every piece of text becomes a text node, and a link becomes an <a> only when its
// URL is http or https. Anything the subset does not know stays visible as the literal characters it was.
//
// Blocks: paragraphs (single newlines kept as line breaks), # headings, fenced code (``` or ~~~), - * + and 1.
// lists (nested by indentation), > quotes, --- rules. Inline: `code`, **bold**, *italic*, [text](http://url).

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?/;
const LIST_ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])[ \t]+(.*)$/;
const BLANK = /^\s*$/;
const LANGUAGE = /^[\w#+.-]{1,32}$/;

/** Split `text` into blocks, each with the `source` it came from (used to re-render only what changed). */
export function parseBlocks(text) {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const blocks = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (BLANK.test(line)) {
      i += 1;
      continue;
    }
    const start = i;
    let block;
    const fence = FENCE.exec(line);
    if (fence) {
      const marker = fence[1];
      const closing = new RegExp(`^ {0,3}${marker[0] === "`" ? "`" : "~"}{${marker.length},}\\s*$`);
      const body = [];
      i += 1;
      while (i < lines.length && !closing.test(lines[i])) body.push(lines[i++]);
      const closed = i < lines.length;
      if (closed) i += 1;
      // An unclosed fence is a code block still being streamed: show it as code already.
      block = { type: "code", language: LANGUAGE.test(fence[2]) ? fence[2] : "", text: body.join("\n"), closed };
    } else if (HEADING.test(line)) {
      const [, hashes, content] = HEADING.exec(line);
      block = { type: "heading", level: hashes.length, text: content };
      i += 1;
    } else if (RULE.test(line)) {
      block = { type: "rule" };
      i += 1;
    } else if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && QUOTE.test(lines[i])) body.push(lines[i++].replace(QUOTE, ""));
      block = { type: "quote", blocks: parseBlocks(body.join("\n")) };
    } else if (LIST_ITEM.test(line)) {
      [block, i] = parseList(lines, i);
    } else {
      const body = [];
      while (i < lines.length && !BLANK.test(lines[i]) && !startsBlock(lines[i])) body.push(lines[i++]);
      block = { type: "paragraph", text: body.join("\n") };
    }
    block.source = lines.slice(start, i).join("\n");
    blocks.push(block);
  }
  return blocks;
}

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || QUOTE.test(line) || LIST_ITEM.test(line) || RULE.test(line);
}

function parseList(lines, from) {
  const first = LIST_ITEM.exec(lines[from]);
  const ordered = /\d/.test(first[2]);
  const list = { type: "list", ordered, start: ordered ? parseInt(first[2], 10) : 1, items: [] };
  let i = from;
  while (i < lines.length) {
    const item = LIST_ITEM.exec(lines[i]);
    if (!item || /\d/.test(item[2]) !== ordered) break;
    const indent = item[1].length + item[2].length + 1;
    const body = [item[3]];
    i += 1;
    // Lines indented under the item (and blank lines followed by such lines) belong to it: nested lists too.
    while (i < lines.length) {
      if (BLANK.test(lines[i])) {
        const next = lines.slice(i).find((candidate) => !BLANK.test(candidate));
        if (next === undefined || !/^\s{2,}/.test(next)) break;
        body.push("");
        i += 1;
      } else if (/^\s{2,}/.test(lines[i]) || (!startsBlock(lines[i]) && body[body.length - 1] !== "")) {
        body.push(lines[i].replace(new RegExp(`^ {0,${indent}}`), ""));
        i += 1;
      } else {
        break;
      }
    }
    list.items.push(parseBlocks(body.join("\n")));
    // A blank line between items keeps the list going; anything else after it ends the list.
    let next = i;
    while (next < lines.length && BLANK.test(lines[next])) next += 1;
    if (next !== i && next < lines.length && LIST_ITEM.test(lines[next])) i = next;
  }
  return [list, i];
}

/** A fragment with `text` rendered. */
export function renderMarkdown(text) {
  const fragment = document.createDocumentFragment();
  for (const block of parseBlocks(text)) fragment.append(renderBlock(block));
  return fragment;
}

const renderedSources = new WeakMap();

/** Render `text` into `container`, rebuilding only the blocks whose source changed (while streaming, that is
 * the last one), so earlier paragraphs keep their nodes, their selection and their place on screen. */
export function updateMarkdown(container, text) {
  const blocks = parseBlocks(text);
  const previous = renderedSources.get(container) || [];
  const sources = [];
  blocks.forEach((block, index) => {
    sources.push(block.source);
    const existing = container.children[index];
    if (existing && previous[index] === block.source) return;
    const node = renderBlock(block);
    if (existing) existing.replaceWith(node);
    else container.append(node);
  });
  while (container.children.length > blocks.length) container.lastElementChild.remove();
  renderedSources.set(container, sources);
}

function renderBlock(block) {
  switch (block.type) {
    case "code": {
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      if (block.language) {
        code.className = `language-${block.language}`;
        pre.dataset.language = block.language;
      }
      code.textContent = block.text;
      pre.append(code);
      return pre;
    }
    case "heading": {
      // Headings inside an answer sit below the page's own h1/h2.
      const heading = document.createElement(`h${Math.min(block.level + 2, 6)}`);
      heading.append(renderInline(block.text));
      return heading;
    }
    case "rule":
      return document.createElement("hr");
    case "quote": {
      const quote = document.createElement("blockquote");
      for (const inner of block.blocks) quote.append(renderBlock(inner));
      return quote;
    }
    case "list": {
      const list = document.createElement(block.ordered ? "ol" : "ul");
      if (block.ordered && block.start !== 1) list.start = block.start;
      for (const itemBlocks of block.items) {
        const item = document.createElement("li");
        // A one-paragraph item renders tight, without a <p> of its own.
        const tight = itemBlocks.length === 1 && itemBlocks[0].type === "paragraph";
        if (tight) item.append(renderInline(itemBlocks[0].text));
        else for (const inner of itemBlocks) item.append(renderBlock(inner));
        list.append(item);
      }
      return list;
    }
    default: {
      const paragraph = document.createElement("p");
      paragraph.append(renderInline(block.text));
      return paragraph;
    }
  }
}

const INLINE = [
  { type: "code", pattern: /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/y },
  { type: "link", pattern: /\[((?:[^\[\]\n]|\[[^\[\]\n]*\])+)\]\(\s*<?([^\s()<>]+)>?(?:\s+"[^"\n]*")?\s*\)/y },
  { type: "strong", pattern: /\*\*(?=\S)([\s\S]*?\S)\*\*|__(?=\S)([\s\S]*?\S)__(?!\w)/y },
  { type: "em", pattern: /\*(?=[^\s*])((?:\*\*[\s\S]+?\*\*|[^*])*?[^\s*])\*(?!\*)|_(?=\S)([^_]*?\S)_(?!\w)/y },
];
const INLINE_START = /[`[*_]/g;

/** Inline Markdown as a fragment of text nodes and a few safe elements. */
export function renderInline(text) {
  const fragment = document.createDocumentFragment();
  let plain = "";
  let i = 0;
  const flush = () => {
    if (plain) fragment.append(...withLineBreaks(plain));
    plain = "";
  };
  while (i < text.length) {
    INLINE_START.lastIndex = i;
    const found = INLINE_START.exec(text);
    if (!found) break;
    plain += text.slice(i, found.index);
    i = found.index;
    // An underscore inside a word (snake_case) is a letter, not emphasis.
    const inWord = text[i] === "_" && i > 0 && /\w/.test(text[i - 1]);
    const node = inWord ? null : inlineAt(text, i);
    if (node) {
      flush();
      fragment.append(node.element);
      i += node.length;
    } else {
      plain += text[i];
      i += 1;
    }
  }
  plain += text.slice(i);
  flush();
  return fragment;
}

function inlineAt(text, index) {
  for (const { type, pattern } of INLINE) {
    pattern.lastIndex = index;
    const match = pattern.exec(text);
    if (!match) continue;
    const element = inlineElement(type, match);
    if (element) return { element, length: match[0].length };
  }
  return null;
}

function inlineElement(type, match) {
  if (type === "code") {
    const code = document.createElement("code");
    code.textContent = match[2].replace(/\n/g, " ");
    return code;
  }
  if (type === "link") {
    const href = safeHref(match[2]);
    if (!href) return null; // not http(s): the whole [text](url) stays as literal text
    const link = document.createElement("a");
    link.href = href;
    link.rel = "noopener noreferrer nofollow";
    link.target = "_blank";
    link.append(renderInline(match[1]));
    return link;
  }
  const element = document.createElement(type);
  element.append(renderInline(match[1] ?? match[2]));
  return element;
}

/** The URL if it is an absolute http(s) URL, else null (javascript:, data:, relative, malformed...). */
export function safeHref(raw) {
  let url;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}

function withLineBreaks(text) {
  const nodes = [];
  text.split("\n").forEach((line, index) => {
    if (index) nodes.push(document.createElement("br"));
    if (line) nodes.push(document.createTextNode(line));
  });
  return nodes;
}
