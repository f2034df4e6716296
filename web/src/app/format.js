// format.js — small display helpers (times, names, avatars).

import { h } from './dom.js';

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', month: 'long', day: 'numeric' });
const yearDayFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'long', day: 'numeric' });

export const formatTime = (ms) => timeFmt.format(new Date(ms));
export const formatFull = (ms) => fullFmt.format(new Date(ms));

/** Start of the local day of ms, as a number usable as a key. */
export function dayKey(ms) {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

export function formatDay(ms) {
  const key = dayKey(ms);
  const today = dayKey(Date.now());
  if (key === today) return 'Today';
  const now = new Date();
  if (key === new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1).getTime()) return 'Yesterday';
  const d = new Date(ms);
  return d.getFullYear() === new Date().getFullYear() ? dayFmt.format(d) : yearDayFmt.format(d);
}

/** Up to two initials of a name. */
export function initials(name) {
  const parts = String(name || '?').trim().split(/[\s._-]+/).filter(Boolean);
  const letters = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : [parts[0] ?? '?'];
  return letters.map((p) => [...p][0]?.toUpperCase() ?? '').join('') || '?';
}

// Hues that stay distinct next to each other and readable under white text.
const HUES = [240, 8, 150, 280, 200, 30, 330, 175, 260, 100, 350, 215];

/** A stable hue for a user id. */
export function hue(id) {
  let x = 2166136261;
  for (const ch of String(id)) x = Math.imul(x ^ ch.codePointAt(0), 16777619);
  x = Math.imul(x ^ (x >>> 15), 2246822507);
  return HUES[(x >>> 0) % HUES.length];
}

/** A round avatar with initials; online adds a presence dot. */
export function avatar(id, name, { size = 'md', online } = {}) {
  return h('span', {
    class: ['avatar', `avatar-${size}`, online === true && 'is-online'],
    style: { '--hue': String(hue(id)) },
    attrs: { 'aria-hidden': 'true' },
  }, initials(name));
}

export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** "Alice", "Alice and Bob", "Alice, Bob and 2 others". */
export function joinNames(names) {
  if (names.length <= 1) return names[0] ?? '';
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]}`;
  return `${names[0]}, ${names[1]} and ${names.length - 2} others`;
}
