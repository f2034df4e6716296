// markdown.js — a small, safe markdown subset for card descriptions.
//
// parseMarkdown(text) gives a tree of plain objects (no DOM, testable in
// node); renderMarkdown(text) builds DOM nodes from it with createElement
// and text nodes only, so no string is ever parsed as HTML. Supported:
// paragraphs (single line breaks kept), **bold**, *italic* / _italic_,
// `code`, fenced ``` code blocks, "- " / "* " and "1. " lists, and links —
// [text](url) and bare URLs — for http: and https: URLs only (anything
// else stays text). Links open in a new tab with rel="noopener noreferrer".
//
// Tree: {type: 'root', children: [block]}; blocks are
// {type: 'p', children: [inline]}, {type: 'ul'|'ol', items: [[inline]]},
// {type: 'pre', text}; inlines are {type: 'text', text}, {type: 'br'},
// {type: 'strong'|'em', children}, {type: 'code', text},
// {type: 'a', href, children}.

const MAX_DEPTH = 4;

/** The URL if it is an absolute http(s) URL, else null. */
export function safeHref(url) {
  const s = String(url ?? '').trim();
  if (!/^https?:\/\//i.test(s)) return null;
  try {
    const u = new URL(s);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return u.href;
  } catch {
    return null;
  }
}

/** Parses text into the tree described above. */
export function parseMarkdown(text) {
  const lines = String(text ?? '').replace(/\r\n?/g, '\n').split('\n');
  const blocks = [];
  let para = [];
  const flushPara = () => {
    if (para.length) blocks.push({ type: 'p', children: inlineLines(para) });
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^\s*```/.test(line)) {
      flushPara();
      const body = [];
      i++;
      while (i < lines.length && !/^\s*```/.test(lines[i])) body.push(lines[i++]);
      blocks.push({ type: 'pre', text: body.join('\n') });
      continue;
    }
    const ul = /^\s*[-*+]\s+(.*)$/.exec(line);
    const ol = /^\s*\d{1,9}[.)]\s+(.*)$/.exec(line);
    if (ul || ol) {
      flushPara();
      const type = ul ? 'ul' : 'ol';
      const re = ul ? /^\s*[-*+]\s+(.*)$/ : /^\s*\d{1,9}[.)]\s+(.*)$/;
      const items = [];
      while (i < lines.length) {
        const m = re.exec(lines[i]);
        if (!m) break;
        items.push(parseInline(m[1], 0));
        i++;
      }
      i--;
      blocks.push({ type, items });
      continue;
    }
    if (line.trim() === '') flushPara();
    else para.push(line);
  }
  flushPara();
  return { type: 'root', children: blocks };
}

function inlineLines(lines) {
  const out = [];
  lines.forEach((l, i) => {
    if (i) out.push({ type: 'br' });
    out.push(...parseInline(l, 0));
  });
  return out;
}

const URL_RE = /https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/y;

/** Inline markup of one line. */
export function parseInline(s, depth = 0) {
  const out = [];
  let buf = '';
  const flush = () => {
    if (buf) out.push({ type: 'text', text: buf });
    buf = '';
  };
  let i = 0;
  while (i < s.length) {
    const ch = s[i];
    if (ch === '\\' && i + 1 < s.length && /[\\`*_[\]()]/.test(s[i + 1])) {
      buf += s[i + 1];
      i += 2;
      continue;
    }
    if (ch === '`') {
      const end = s.indexOf('`', i + 1);
      if (end > i + 1) {
        flush();
        out.push({ type: 'code', text: s.slice(i + 1, end) });
        i = end + 1;
        continue;
      }
    }
    if (depth < MAX_DEPTH && s.startsWith('**', i)) {
      const end = s.indexOf('**', i + 2);
      if (end > i + 2) {
        flush();
        out.push({ type: 'strong', children: parseInline(s.slice(i + 2, end), depth + 1) });
        i = end + 2;
        continue;
      }
    }
    if (depth < MAX_DEPTH && (ch === '*' || ch === '_') && s[i + 1] !== ch && s[i + 1] !== ' ' && s[i + 1] !== undefined) {
      // _ only at a word start, so snake_case stays text.
      if (ch === '*' || i === 0 || /[\s(]/.test(s[i - 1])) {
        const end = s.indexOf(ch, i + 1);
        if (end > i + 1 && s[end - 1] !== ' ' && (ch === '*' || end + 1 >= s.length || /[\s).,;:!?]/.test(s[end + 1]))) {
          flush();
          out.push({ type: 'em', children: parseInline(s.slice(i + 1, end), depth + 1) });
          i = end + 1;
          continue;
        }
      }
    }
    if (ch === '[' && depth < MAX_DEPTH) {
      const close = s.indexOf('](', i + 1);
      const end = close > i ? s.indexOf(')', close + 2) : -1;
      if (close > i && end > close) {
        const href = safeHref(s.slice(close + 2, end));
        if (href) {
          flush();
          out.push({ type: 'a', href, children: parseInline(s.slice(i + 1, close), depth + 1) });
          i = end + 1;
          continue;
        }
      }
    }
    if ((ch === 'h' || ch === 'H') && (i === 0 || /[\s(]/.test(s[i - 1]))) {
      URL_RE.lastIndex = i;
      const m = URL_RE.exec(s);
      const href = m ? safeHref(m[0]) : null;
      if (href) {
        flush();
        out.push({ type: 'a', href, children: [{ type: 'text', text: m[0] }] });
        i += m[0].length;
        continue;
      }
    }
    buf += ch;
    i++;
  }
  flush();
  return out;
}

/** Builds DOM nodes for the tree (doc: the document to build in). */
export function renderTree(tree, doc = globalThis.document) {
  const frag = doc.createDocumentFragment();
  const inline = (parent, nodes) => {
    for (const n of nodes) {
      if (n.type === 'text') parent.append(doc.createTextNode(n.text));
      else if (n.type === 'br') parent.append(doc.createElement('br'));
      else if (n.type === 'code') {
        const el = doc.createElement('code');
        el.textContent = n.text;
        parent.append(el);
      } else if (n.type === 'strong' || n.type === 'em') {
        const el = doc.createElement(n.type);
        inline(el, n.children);
        parent.append(el);
      } else if (n.type === 'a') {
        const el = doc.createElement('a');
        el.setAttribute('href', n.href);
        el.setAttribute('target', '_blank');
        el.setAttribute('rel', 'noopener noreferrer nofollow');
        inline(el, n.children);
        parent.append(el);
      }
    }
  };
  for (const b of tree.children) {
    if (b.type === 'p') {
      const el = doc.createElement('p');
      inline(el, b.children);
      frag.append(el);
    } else if (b.type === 'pre') {
      const pre = doc.createElement('pre');
      const code = doc.createElement('code');
      code.textContent = b.text;
      pre.append(code);
      frag.append(pre);
    } else if (b.type === 'ul' || b.type === 'ol') {
      const list = doc.createElement(b.type);
      for (const item of b.items) {
        const li = doc.createElement('li');
        inline(li, item);
        list.append(li);
      }
      frag.append(list);
    }
  }
  return frag;
}

/** A DocumentFragment with the rendered markdown of text. */
export function renderMarkdown(text, doc = globalThis.document) {
  return renderTree(parseMarkdown(text), doc);
}
