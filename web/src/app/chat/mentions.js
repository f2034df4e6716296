// mentions.js — @username mentions and the rendering of message text.
//
// A message's `mentions` carries user ids (the reducer's rule); the text
// carries @usernames. Everything is rendered as text nodes and <span>/<a>
// elements whose content is set as text.

import { h } from '../dom.js';

const MENTION_RE = /(^|[^A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{1,40})/g;
const URL_RE = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]}]/g;
export const MAX_MENTIONS = 50;

/**
 * Resolves a raw "@name" candidate against the members: the longest prefix
 * that names a member (so "@bob." or "@bob-" at a sentence end still works).
 */
function resolve(name, byUsername) {
  let n = name.toLowerCase();
  while (n.length >= 1) {
    if (byUsername.has(n)) return { username: n, member: byUsername.get(n) };
    if (!/[.\-_]$/.test(n)) break;
    n = n.slice(0, -1);
  }
  return null;
}

/** Scans text for @mentions; yields {index, length, username, member}. */
export function* scanMentions(text, byUsername) {
  MENTION_RE.lastIndex = 0;
  let m;
  while ((m = MENTION_RE.exec(text)) !== null) {
    const r = resolve(m[2], byUsername);
    if (!r) continue;
    yield { index: m.index + m[1].length, length: 1 + r.username.length, ...r };
  }
}

/** The user ids (strings) mentioned in text, first occurrences in order, at most 50. */
export function mentionIds(text, byUsername) {
  const ids = [];
  for (const { member } of scanMentions(text, byUsername)) {
    const id = String(member.user_id);
    if (!ids.includes(id)) ids.push(id);
    if (ids.length === MAX_MENTIONS) break;
  }
  return ids;
}

/** Text with links: string pieces and <a> elements. */
function linkify(text) {
  const out = [];
  let last = 0;
  URL_RE.lastIndex = 0;
  let m;
  while ((m = URL_RE.exec(text)) !== null) {
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(h('a', { href: m[0], target: '_blank', rel: 'noopener noreferrer nofollow', class: 'msg-link' }, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/**
 * Message text as DOM nodes: @mentions of members highlighted (your own
 * more strongly), links clickable, everything else plain text.
 */
export function renderText(text, { byUsername, meId }) {
  const out = [];
  let last = 0;
  for (const mt of scanMentions(text, byUsername)) {
    if (mt.index > last) out.push(...linkify(text.slice(last, mt.index)));
    const isMe = String(mt.member.user_id) === String(meId);
    out.push(h('span', {
      class: ['mention', isMe && 'mention-me'],
      title: mt.member.display_name,
    }, text.slice(mt.index, mt.index + mt.length)));
    last = mt.index + mt.length;
  }
  if (last < text.length) out.push(...linkify(text.slice(last)));
  return out;
}

/** The @prefix being typed at the caret of a textarea, or null. */
export function mentionQuery(value, caret) {
  const before = value.slice(0, caret);
  const m = /(^|[^A-Za-z0-9_.@-])@([A-Za-z0-9_.-]{0,32})$/.exec(before);
  if (!m) return null;
  return { start: caret - m[2].length - 1, query: m[2].toLowerCase() };
}
