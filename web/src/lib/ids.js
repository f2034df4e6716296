/**
 * @file ids.js — random ids for client message ids (`cid`) and for the ids
 * clients choose for cards, comments, columns and whiteboard objects.
 */

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * A random id of `length` base-36 characters (16 by default: ~82 bits),
 * valid both as a `cid` and as a reducer id (`A-Za-z0-9_.:-`, 1..64).
 * Uses `crypto.getRandomValues` (browsers, Node 20).
 * @param {number} [length]
 * @returns {string}
 */
export function randomId(length = 16) {
  const bytes = new Uint8Array(length);
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  // 252 = 7 * 36: bytes at or above it are skewed, so they are redrawn.
  for (let i = 0; i < length; i++) {
    let b = bytes[i];
    while (b >= 252) b = globalThis.crypto.getRandomValues(new Uint8Array(1))[0];
    out += ALPHABET[b % 36];
  }
  return out;
}
