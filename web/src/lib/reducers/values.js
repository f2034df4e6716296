/**
 * @file values.js — the readers of untrusted event values shared by the room
 * reducers, string helpers that follow Unicode code points (not UTF-16
 * units), and the copy-on-write writer the reducers change states through.
 *
 * Every check here mirrors a rule of docs/reducers.md ("Value types"): a
 * reader returns the value when it is valid and `undefined` otherwise, so a
 * reducer never uses a payload value it has not checked.
 *
 * Objects coming from JSON may have any own keys, "__proto__" and
 * "constructor" included (ids and user ids are chosen by clients), so keys
 * are read with {@link own} and added with {@link put}, never with plain
 * indexing or assignment.
 */

/** Largest integer both C and JavaScript represent exactly (2^53 - 1). */
export const INT_LIMIT = 9007199254740991;

/** Longest user id (JWT `sub`), in UTF-8 bytes. */
export const USER_MAX_BYTES = 128;

const ID_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * The value of an own property, or `undefined` (inherited properties such as
 * `constructor` never count).
 * @param {unknown} obj
 * @param {string} key
 * @returns {any}
 */
export function own(obj, key) {
  return obj !== null && typeof obj === 'object' && Object.prototype.hasOwnProperty.call(obj, key)
    ? obj[key] : undefined;
}

/**
 * True if the object has the own property `key`.
 * @param {object} obj
 * @param {string} key
 */
export function has(obj, key) {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

/**
 * Sets an own, enumerable data property (safe for the key "__proto__").
 * @param {object} obj
 * @param {string} key
 * @param {any} value
 */
export function put(obj, key, value) {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * True for a JSON object (not null, not an array).
 * @param {unknown} v
 * @returns {v is Record<string, any>}
 */
export function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * An integer: a number with an integral value within ±(2^53 − 1). `-0` reads
 * as `0`.
 * @param {unknown} v
 * @returns {number|undefined}
 */
export function int(v) {
  return typeof v === 'number' && Number.isInteger(v) && v >= -INT_LIMIT && v <= INT_LIMIT
    ? v + 0 : undefined;
}

/**
 * A number within ±limit (`-0` reads as `0`).
 * @param {unknown} v
 * @param {number} limit
 * @returns {number|undefined}
 */
export function num(v, limit) {
  return typeof v === 'number' && v >= -limit && v <= limit ? v + 0 : undefined;
}

/**
 * Number of Unicode code points in s, or -1 if s holds U+0000 or a lone
 * surrogate.
 * @param {string} s
 * @returns {number}
 */
export function codePointLength(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return -1;
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return -1;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return -1;
    }
    n++;
  }
  return n;
}

/**
 * Length of s in UTF-8 bytes, or -1 if s holds U+0000 or a lone surrogate.
 * @param {string} s
 * @returns {number}
 */
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return -1;
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return -1;
      i++;
      n += 4;
    } else if (c >= 0xdc00 && c <= 0xdfff) return -1;
    else n += 3;
  }
  return n;
}

/**
 * Text: a string of valid Unicode without U+0000 whose length in code points
 * is within [min, max].
 * @param {unknown} v
 * @param {number} min
 * @param {number} max
 * @returns {string|undefined}
 */
export function text(v, min, max) {
  if (typeof v !== 'string' || v.length > 2 * max) return undefined;
  const n = codePointLength(v);
  return n >= min && n <= max ? v : undefined;
}

/**
 * A string without U+0000 (for exact matches against ASCII vocabularies).
 * @param {unknown} v
 * @returns {string|undefined}
 */
export function str(v) {
  return typeof v === 'string' && !v.includes('\u0000') ? v : undefined;
}

/**
 * A user id: 1..128 UTF-8 bytes of valid Unicode without U+0000.
 * @param {unknown} v
 * @returns {string|undefined}
 */
export function user(v) {
  if (typeof v !== 'string' || v.length > USER_MAX_BYTES) return undefined;
  const n = utf8Length(v);
  return n >= 1 && n <= USER_MAX_BYTES ? v : undefined;
}

/**
 * A client-chosen id: 1..64 characters of `A-Z a-z 0-9 _ . : -`.
 * @param {unknown} v
 * @returns {string|undefined}
 */
export function id(v) {
  return typeof v === 'string' && ID_RE.test(v) ? v : undefined;
}

/**
 * Compares two strings by Unicode code point (= UTF-8 byte order), unlike
 * `<` and the default `sort()`, which compare UTF-16 units. For well-formed
 * strings.
 * @param {string} a
 * @param {string} b
 * @returns {number} negative, 0 or positive
 */
export function compareCodePoints(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800..DFFF) encode code points above U+FFFF: move them
    // above U+E000..FFFF so units order like the code points they encode.
    if (x >= 0xd800) x += x <= 0xdfff ? 0x2000 : -0x800;
    if (y >= 0xd800) y += y <= 0xdfff ? 0x2000 : -0x800;
    return x - y;
  }
  return a.length - b.length;
}

/** Index of the first element of the sorted set arr that is >= s. */
function lowerBound(arr, s) {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const m = typeof arr[mid] === 'string' ? arr[mid] : '';
    if (compareCodePoints(m, s) < 0) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * True if the sorted string set arr (code point order) holds s.
 * @param {unknown[]} arr
 * @param {string} s
 */
export function setHas(arr, s) {
  return arr[lowerBound(arr, s)] === s;
}

/**
 * A copy of the sorted string set arr with s added.
 * @param {unknown[]} arr
 * @param {string} s
 * @returns {unknown[]}
 */
export function setAdd(arr, s) {
  const i = lowerBound(arr, s);
  if (arr[i] === s) return arr.slice();
  return [...arr.slice(0, i), s, ...arr.slice(i)];
}

/**
 * A copy of the sorted string set arr without s.
 * @param {unknown[]} arr
 * @param {string} s
 * @returns {unknown[]}
 */
export function setDel(arr, s) {
  const i = lowerBound(arr, s);
  return arr[i] === s ? [...arr.slice(0, i), ...arr.slice(i + 1)] : arr.slice();
}

/**
 * Integer field of a state object, or dflt.
 * @param {unknown} obj
 * @param {string} key
 * @param {number} dflt
 */
export function getInt(obj, key, dflt) {
  const v = int(own(obj, key));
  return v === undefined ? dflt : v;
}

/**
 * Number field of a state object, or 0.
 * @param {unknown} obj
 * @param {string} key
 */
export function getNum(obj, key) {
  const v = own(obj, key);
  return typeof v === 'number' ? v : 0;
}

/**
 * String field of a state object, or "".
 * @param {unknown} obj
 * @param {string} key
 */
export function getStr(obj, key) {
  const v = own(obj, key);
  return typeof v === 'string' ? v : '';
}

/**
 * How a reducer changes a state. In copy-on-write mode (the default) the
 * given state is never modified: every object or array about to change is
 * first copied (once per event) and the copy is linked into its (already
 * copied) parent, so unchanged parts are shared with the old state. In
 * in-place mode the state is changed directly.
 *
 * Reducers only change values obtained from {@link Writer#root} and
 * {@link Writer#at}; arrays they replace are always new arrays.
 */
export class Writer {
  /** @param {boolean} inPlace */
  constructor(inPlace) {
    /** @type {WeakSet<object>|null} containers copied for this event */
    this.fresh = inPlace ? null : new WeakSet();
    /** @type {WeakMap<object, number>} key counts of maps, kept while this writer lives */
    this.sizes = new WeakMap();
  }

  /**
   * Number of own keys of a map (cached for this writer; keep it current
   * with {@link Writer#added} and {@link Writer#removed}).
   * @param {object} map
   * @returns {number}
   */
  size(map) {
    let n = this.sizes.get(map);
    if (n === undefined) {
      n = Object.keys(map).length;
      this.sizes.set(map, n);
    }
    return n;
  }

  /**
   * Puts a new key into a writable map, keeping its cached size.
   * @param {object} map
   * @param {string} key
   * @param {any} value
   */
  added(map, key, value) {
    const fresh = !has(map, key);
    put(map, key, value);
    const n = this.sizes.get(map);
    if (fresh && n !== undefined) this.sizes.set(map, n + 1);
  }

  /**
   * Deletes a key from a writable map, keeping its cached size.
   * @param {object} map
   * @param {string} key
   */
  removed(map, key) {
    if (!has(map, key)) return;
    delete map[key];
    const n = this.sizes.get(map);
    if (n !== undefined) this.sizes.set(map, n - 1);
  }

  /**
   * A writable version of x: x itself in place or if already copied, else a
   * shallow copy.
   * @template T
   * @param {T} x
   * @returns {T}
   */
  root(x) {
    if (!this.fresh || this.fresh.has(x)) return x;
    const c = Array.isArray(x) ? x.slice() : { ...x };
    this.fresh.add(c);
    const n = this.sizes.get(x);
    if (n !== undefined) this.sizes.set(c, n);
    return c;
  }

  /**
   * A writable version of parent[key] (which must exist), linked into the
   * writable parent.
   * @param {object} parent
   * @param {string|number} key
   * @returns {any}
   */
  at(parent, key) {
    const v = Array.isArray(parent) ? parent[key] : own(parent, String(key));
    const c = this.root(v);
    if (c !== v) {
      if (Array.isArray(parent)) parent[key] = c; else put(parent, String(key), c);
    }
    return c;
  }
}
