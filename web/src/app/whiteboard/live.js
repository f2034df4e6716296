// live.js — what travels as ephemeral events: strokes and shapes in
// progress, and cursors. Pure logic (no DOM), clock injectable for tests.
//
// Wire format (ephemeral kinds, payloads in board coordinates):
//   stroke.live {id, color, size, tool, from, points}  the points from index `from` on (only new ones)
//   stroke.end  {id, cancel?}                          pen up (the stroke.add with that id follows) or cancelled
//   shape.live  {id, shape, x, y, w, h, color, size}   a shape being dragged out
//   shape.end   {id, cancel?}
//   cursor      {x, y} | {gone: true}
// A receiver draws an in-progress item until the durable add with its id
// arrives, it is cancelled, or nothing was heard of it for LIVE_TTL_MS
// (ENDED_TTL_MS after its end).
//
// What others send is bounded on receipt, so that no sender can make this
// page's frames slow: a live stroke keeps at most LIVE_MAX_POINTS points
// (the stroke.add limit; messages that bring none once it is full do not
// keep it alive either), a session at most LIVE_PER_SESSION items and the
// page at most LIVE_MAX_ITEMS, the oldest going first.

import { MAX_POINTS, roundCoord } from './geometry.js';

export const LIVE_TTL_MS = 5000;
export const ENDED_TTL_MS = 8000;
export const CURSOR_IDLE_MS = 5000;
/** Most points in one stroke.live message. */
export const LIVE_CHUNK = 400;
/** Most points of one live stroke kept by a receiver. */
export const LIVE_MAX_POINTS = MAX_POINTS;
/** Most items in progress kept per session, and in all. */
export const LIVE_PER_SESSION = 4;
export const LIVE_MAX_ITEMS = 64;

const num = (v) => typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= 1e7;
const okId = (v) => typeof v === 'string' && /^[A-Za-z0-9_.:-]{1,64}$/.test(v);
const okColor = (v) => typeof v === 'string' && /^#[0-9a-fA-F]{3,8}$/.test(v);
const okSize = (v) => num(v) && v > 0 && v <= 500;

/** Others' strokes and shapes in progress. */
export class LiveItems {
  constructor({ now = () => Date.now() } = {}) {
    this.now = now;
    /** id -> item */
    this.items = new Map();
    /** ids committed already (a late live message must not bring them back) */
    this.done = new Map();
  }

  get size() { return this.items.size; }

  /** Handles an ephemeral event; true if something to draw changed. */
  onEphemeral(ev) {
    const p = ev?.payload;
    if (!p || typeof p !== 'object' || !okId(p.id)) return false;
    const t = this.now();
    if (this.done.has(p.id)) return false;
    switch (ev.kind) {
      case 'stroke.live': {
        if (!okColor(p.color) || !okSize(p.size) || !Array.isArray(p.points)) return false;
        let it = this.items.get(p.id);
        if (it && it.type !== 'stroke') return false;
        if (!it) {
          it = { id: p.id, type: 'stroke', author: String(ev.author ?? ''), session: String(ev.session ?? ''), points: [], ended: 0 };
          this.#admit(it);
        } else if (it.points.length >= LIVE_MAX_POINTS) {
          // Full: nothing more is drawn, and it is not kept alive.
          return false;
        }
        it.color = p.color;
        it.size = p.size;
        it.tool = p.tool === 'eraser' ? 'eraser' : 'pen';
        it.last = t;
        const from = Number.isInteger(p.from) && p.from >= 0 ? p.from : it.points.length;
        // Skip what is already there (a resent chunk), append the rest up
        // to the limit; only what is appended is looked at.
        const pts = p.points;
        for (let i = Math.max(0, it.points.length - from); i < pts.length && it.points.length < LIVE_MAX_POINTS; i++) {
          const q = pts[i];
          if (Array.isArray(q) && num(q[0]) && num(q[1])) it.points.push([q[0], q[1]]);
        }
        return true;
      }
      case 'shape.live': {
        if (!okColor(p.color) || !okSize(p.size) || ![p.x, p.y, p.w, p.h].every(num)) return false;
        if (!['rect', 'ellipse', 'line', 'arrow'].includes(p.shape)) return false;
        const it = {
          id: p.id, type: 'shape', shape: p.shape, x: p.x, y: p.y, w: p.w, h: p.h, color: p.color, size: p.size,
          author: String(ev.author ?? ''), session: String(ev.session ?? ''), last: t, ended: 0,
        };
        if (this.items.has(p.id)) this.items.set(p.id, it);
        else this.#admit(it);
        return true;
      }
      case 'stroke.end':
      case 'shape.end': {
        const it = this.items.get(p.id);
        if (!it) return false;
        if (p.cancel) {
          this.items.delete(p.id);
          return true;
        }
        it.ended = t;
        return false;
      }
      default:
        return false;
    }
  }

  /** Adds a new item, making room first: the session's oldest, then the oldest of all. */
  #admit(it) {
    let mine = 0;
    let oldestMine = null;
    for (const [id, x] of this.items) {
      if (x.session !== it.session) continue;
      if (oldestMine === null) oldestMine = id;
      mine++;
    }
    if (mine >= LIVE_PER_SESSION) this.items.delete(oldestMine);
    while (this.items.size >= LIVE_MAX_ITEMS) this.items.delete(this.items.keys().next().value);
    this.items.set(it.id, it);
  }

  /** The durable add of id arrived: its live version goes. */
  committed(id) {
    this.done.set(id, this.now());
    return this.items.delete(id);
  }

  /** Drops the items of a session that left. */
  dropSession(session) {
    let changed = false;
    for (const [id, it] of this.items) {
      if (it.session === session) {
        this.items.delete(id);
        changed = true;
      }
    }
    return changed;
  }

  /** Drops stale items; true if any went. */
  sweep() {
    const t = this.now();
    let changed = false;
    for (const [id, it] of this.items) {
      if ((it.ended && t - it.ended > ENDED_TTL_MS) || t - it.last > LIVE_TTL_MS) {
        this.items.delete(id);
        changed = true;
      }
    }
    for (const [id, at] of this.done) if (t - at > 60000) this.done.delete(id);
    return changed;
  }

  clear() {
    this.items.clear();
  }
}

/** Others' cursors, by session. */
export class Cursors {
  constructor({ now = () => Date.now() } = {}) {
    this.now = now;
    /** session -> {session, user, x, y, last} */
    this.map = new Map();
  }

  /** A cursor event or the last point of a live stroke; true if it changed. */
  move(session, user, x, y) {
    if (!session || !num(x) || !num(y)) return false;
    const c = this.map.get(session) ?? { session, user: String(user ?? '') };
    c.x = x;
    c.y = y;
    c.last = this.now();
    this.map.set(session, c);
    return true;
  }

  onEphemeral(ev) {
    const s = String(ev?.session ?? '');
    const p = ev?.payload;
    if (ev?.kind === 'cursor') {
      if (p?.gone) return this.map.delete(s);
      return this.move(s, ev.author, p?.x, p?.y);
    }
    if (ev?.kind === 'stroke.live' && Array.isArray(p?.points) && p.points.length) {
      const q = p.points[p.points.length - 1];
      return Array.isArray(q) && this.move(s, ev.author, q[0], q[1]);
    }
    if (ev?.kind === 'shape.live' && num(p?.x) && num(p?.w)) {
      return this.move(s, ev.author, p.x + p.w, p.y + p.h);
    }
    return false;
  }

  leave(session) {
    return this.map.delete(session);
  }

  /** Drops cursors idle for CURSOR_IDLE_MS; true if any went. */
  sweep() {
    const t = this.now();
    let changed = false;
    for (const [s, c] of this.map) {
      if (t - c.last > CURSOR_IDLE_MS) {
        this.map.delete(s);
        changed = true;
      }
    }
    return changed;
  }
}

/**
 * This page's stroke in progress, streamed in chunks of new points. tick()
 * is called at the live rate (~30 Hz); send(kind, payload) returns true if
 * the message went out (it may be dropped over the publish rate or while
 * offline: the points are then sent with the next tick).
 */
export class StrokeStream {
  constructor({ id, color, size, tool, send }) {
    this.id = id;
    this.color = color;
    this.size = size;
    this.tool = tool;
    this.send = send;
    this.points = [];
    this.sent = 0;
  }

  add(x, y) {
    this.points.push([x, y]);
  }

  tick() {
    if (this.sent >= this.points.length) return false;
    const chunk = this.points.slice(this.sent, this.sent + LIVE_CHUNK).map(([x, y]) => [roundCoord(x), roundCoord(y)]);
    const ok = this.send('stroke.live', { id: this.id, color: this.color, size: this.size, tool: this.tool, from: this.sent, points: chunk });
    if (ok) this.sent += chunk.length;
    return ok;
  }

  end(cancel = false) {
    this.tick();
    return this.send('stroke.end', cancel ? { id: this.id, cancel: true } : { id: this.id });
  }
}
