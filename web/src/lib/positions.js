/**
 * @file positions.js — fractional-index position keys for board columns and
 * cards (docs/reducers.md, "Board positions"; the C twin is
 * `wk_position_between` in worker/reduce.c).
 *
 * A key is 1..128 characters of the 62 digits `0-9 A-Z a-z` (ASCII order),
 * not ending in `0`: a base-62 fraction 0.d1d2d3..., so comparing keys as
 * strings orders them numerically and between two different keys there is
 * always another one. Items sort by (position, id).
 *
 * @example
 * between(null, null)   // "V"
 * between('a', null)    // "b"  (after a)
 * between(null, 'b')    // "a"  (before b)
 * between('a', 'b')     // "aV"
 * keyForIndex(['a', 'b', 'c'], 1)  // a key between "a" and "b"
 */

/** Longest position key, in characters. */
export const POSITION_MAX = 128;

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_RE = /^[0-9A-Za-z]{1,128}$/;

/** Value 0..61 of a digit, or -1. */
function val(c) {
  return DIGITS.indexOf(c);
}

/**
 * True if s is a valid position key.
 * @param {unknown} s
 * @returns {boolean}
 */
export function isValidPosition(s) {
  return typeof s === 'string' && KEY_RE.test(s) && s[s.length - 1] !== '0';
}

/**
 * The smallest-growth key above k (k valid): bumps the first digit that is
 * not `z`; if all are `z`, appends `1`. May be longer than POSITION_MAX.
 * @param {string} k
 * @returns {string}
 */
export function after(k) {
  for (let i = 0; i < k.length; i++) {
    if (k[i] !== 'z') return k.slice(0, i) + DIGITS[val(k[i]) + 1];
  }
  return `${k}1`;
}

/**
 * A key below k (k valid): lowers the first digit that is at least `2`; if
 * there is none (k is made of 0s and 1s and ends in 1), replaces the last
 * `1` with `0z`.
 * @param {string} k
 * @returns {string}
 */
export function before(k) {
  for (let i = 0; i < k.length; i++) {
    if (val(k[i]) >= 2) return k.slice(0, i) + DIGITS[val(k[i]) - 1];
  }
  return `${k.slice(0, -1)}0z`;
}

/**
 * A key strictly between lo and hi, where `null` (or `undefined`) means no
 * bound on that side. Returns `null` if a bound is not a valid key, if
 * lo >= hi, or if the key would be longer than POSITION_MAX: the caller then
 * respaces the column (see {@link spread}).
 * @param {string|null|undefined} lo
 * @param {string|null|undefined} hi
 * @returns {string|null}
 */
export function between(lo, hi) {
  const hasLo = lo !== null && lo !== undefined;
  const hasHi = hi !== null && hi !== undefined;
  if ((hasLo && !isValidPosition(lo)) || (hasHi && !isValidPosition(hi))) return null;
  if (hasLo && hasHi && lo >= hi) return null;
  let out;
  if (!hasLo && !hasHi) {
    out = 'V';
  } else if (!hasHi) {
    out = after(lo);
  } else if (!hasLo) {
    out = before(hi);
  } else {
    let i = 0;
    while (i < lo.length && lo[i] === hi[i]) i++;
    if (i === lo.length) {
      // lo is a prefix of hi: extend lo below the rest of hi.
      out = hi.slice(0, i) + before(hi.slice(i));
    } else {
      const a = val(lo[i]);
      const b = val(hi[i]);
      if (b - a >= 2) out = lo.slice(0, i) + DIGITS[Math.floor((a + b) / 2)];
      else if (i + 1 === lo.length) out = `${lo}V`;
      else out = lo.slice(0, i + 1) + after(lo.slice(i + 1));
    }
  }
  return out.length <= POSITION_MAX ? out : null;
}

/**
 * n fresh, evenly growing keys for respacing a column: "V", then
 * repeatedly after(previous). Publish one `card.move` per card (in display
 * order) with these keys.
 * @param {number} n
 * @returns {string[]}
 */
export function spread(n) {
  const keys = [];
  let k = 'V';
  for (let i = 0; i < n; i++) {
    keys.push(k);
    k = after(k);
  }
  return keys;
}

/**
 * The key that places an item at `index` in a list whose keys, in display
 * order, are `keys` (the moved item itself left out): between keys[index-1]
 * and keys[index]. Equal neighbours (allowed: ties sort by id) are skipped
 * outward. Returns `null` when no key fits (respace the column).
 * @param {string[]} keys positions in display order
 * @param {number} index 0 = first; keys.length (or more) = last
 * @returns {string|null}
 */
export function keyForIndex(keys, index) {
  const i = Math.max(0, Math.min(index, keys.length));
  const lo = i > 0 ? keys[i - 1] : null;
  let hi = i < keys.length ? keys[i] : null;
  if (lo !== null && hi !== null && lo >= hi) {
    // ties: place after the tie group's keys, below the next higher key
    let j = i;
    while (j < keys.length && keys[j] <= lo) j++;
    hi = j < keys.length ? keys[j] : null;
  }
  return between(lo, hi);
}
