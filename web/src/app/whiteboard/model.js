// model.js — one whiteboard's state: the folded server state (the shared
// reducer, never a fork of its rules), plus the optimistic layer of this
// page's publishes that are not acknowledged yet, plus what undo and redo
// would do for this user.
//
// - `state` is exactly the server's: the snapshot, then each durable event
//   in seq order (reduceInPlace on a private copy).
// - `pending` is this page's publishes whose events are not folded yet:
//   RoomHandle.pending, plus those the handle has settled (acknowledged,
//   or delivered to a RoomSync that holds the event back while it
//   resyncs) until the state reaches them: their event is folded (same
//   cid, or same object id for an add), or the state's seq reaches their
//   acknowledged seq in their epoch. `display` is the state with them
//   folded on top (with provisional seqs above the state's); it is what
//   the user sees and what tools hit-test against.
// - Changes are reported so the renderer can be incremental: an `add` that
//   puts a new object on top (new events always have the highest seq) is
//   appended; anything else redraws.
//
// Works in Node (no DOM): the unit tests drive it with plain events.

import { objectsInOrder, redoTop, reduce, reduceInPlace, stateNew, undoTop } from '../../lib/reducers/index.js';
import { Emitter } from '../events.js';
import { objectFromPayload } from './geometry.js';

const ADD_KINDS = new Set(['stroke.add', 'shape.add']);
const ACTION_KINDS = new Set(['stroke.add', 'shape.add', 'object.move', 'object.delete', 'clear']);
export const WB_KINDS = new Set([...ACTION_KINDS, 'undo', 'redo']);

export class WhiteboardModel extends Emitter {
  constructor({ me }) {
    super();
    this.me = String(me);
    this.state = stateNew('whiteboard');
    this.epoch = null;
    this.loaded = false;
    this.pending = [];
    this.#pend = [];
    this.#display = this.state;
    this.pendingAddIds = new Set();
    this.nonAddSig = '';
    this.#order = null;
    this.#displayOrder = null;
  }

  #order;
  #displayOrder;
  #pend;
  #display;
  #displayDirty = false;
  #fromPayload = new Map();
  /** cid -> {ackSeq, ackEpoch} of publishes the handle no longer lists (settling) */
  #settling = new Map();
  /** cids folded while the handle still lists them */
  #folded = new Set();

  get seq() { return this.state.seq; }

  /** Whether a settled publish is in the state now (seq reached in its epoch, or its add folded). */
  #reached(p, st) {
    if (ADD_KINDS.has(p.kind) && this.#has(this.state, p.payload?.id)) return true;
    if (!st || st.ackSeq === undefined) return false;
    const same = st.ackEpoch === null || st.ackEpoch === undefined || this.epoch === null || st.ackEpoch === this.epoch;
    // Acknowledged in another epoch: it never comes as an event of this one.
    return !same || st.ackSeq <= this.state.seq;
  }

  /** Drops settled publishes the state has reached; true if any went. */
  #dropReached() {
    let changed = false;
    for (const [cid, st] of this.#settling) {
      const i = this.pending.findIndex((p) => p.cid === cid);
      if (i < 0) {
        this.#settling.delete(cid);
        continue;
      }
      if (this.#reached(this.pending[i], st)) {
        this.#removeCid(cid);
        changed = true;
      }
    }
    return changed;
  }

  /** Takes cid out of the overlay (its event is in the state, or it was refused). */
  #removeCid(cid) {
    const i = this.pending.findIndex((p) => p.cid === cid);
    if (i < 0) return false;
    this.pending.splice(i, 1);
    this.#settling.delete(cid);
    // The handle may list it a moment longer: not to be shown again.
    this.#folded.add(cid);
    return true;
  }

  /** Replaces the state with a snapshot {seq, epoch, state}. */
  loadSnapshot(snap) {
    const st = snap?.state && typeof snap.state === 'object' ? snap.state : stateNew('whiteboard');
    // The model owns the snapshot's state from now on (the reducer changes
    // it in place): callers pass a freshly parsed one.
    this.state = st;
    if (!Number.isInteger(this.state.seq)) this.state.seq = Number.isInteger(snap?.seq) ? snap.seq : 0;
    if (!this.state.objects) this.state.objects = {};
    if (!this.state.history) this.state.history = {};
    if (Number.isInteger(snap?.seq) && snap.seq > this.state.seq) this.state.seq = snap.seq;
    this.epoch = snap?.epoch ?? null;
    this.loaded = true;
    this.#order = null;
    this.#dropReached();
    this.#recompute();
    this.emit('change', { type: 'reset' });
  }

  /**
   * Folds one durable event (seq must be state.seq + 1; the view checks
   * gaps). Emits `change` with {type: 'add', object} when a new object was
   * put on top, {type: 'change'} when anything else may have changed, and
   * nothing when the event was ignored.
   */
  applyEvent(ev) {
    if (!this.loaded || typeof ev?.seq !== 'number' || ev.seq <= this.state.seq) return null;
    const kind = ev.kind;
    const applied = reduceInPlace('whiteboard', this.state, ev);
    let change = null;
    if (applied && ADD_KINDS.has(kind)) {
      const id = ev.payload?.id;
      const o = typeof id === 'string' && Object.prototype.hasOwnProperty.call(this.state.objects, id) ? this.state.objects[id] : null;
      if (o && o.seq === ev.seq && !o.hidden) {
        if (this.#order) this.#order.push(o);
        change = { type: 'add', object: o, event: ev };
      } else {
        this.#order = null;
        change = { type: 'change', event: ev };
      }
    } else if (applied) {
      this.#order = null;
      change = { type: 'change', event: ev };
    }
    // One's own publish came back folded: out of the overlay.
    if (typeof ev.cid === 'string' && String(ev.author) === this.me) this.#removeCid(ev.cid);
    this.#dropReached();
    this.#recompute();
    this.emit('change', change ?? { type: 'seq', event: ev });
    return change;
  }

  /**
   * Sets this page's unacknowledged publishes (RoomHandle.pending,
   * whiteboard kinds only). Those the handle no longer lists stay until the
   * state reaches them (ack() tells their seq, refused() drops them).
   */
  setPending(list) {
    const listed = (list ?? []).filter((p) => WB_KINDS.has(p.kind));
    const cids = new Set(listed.map((p) => p.cid));
    for (const cid of this.#folded) if (!cids.has(cid)) this.#folded.delete(cid);
    const out = [];
    const have = new Set();
    for (const p of this.pending) {
      if (cids.has(p.cid)) {
        out.push(p);
      } else {
        if (!this.#settling.has(p.cid)) this.#settling.set(p.cid, {});
        if (this.#reached(p, this.#settling.get(p.cid))) {
          this.#settling.delete(p.cid);
          continue;
        }
        out.push(p);
      }
      have.add(p.cid);
    }
    for (const p of listed) if (!have.has(p.cid) && !this.#folded.has(p.cid)) out.push(p);
    this.pending = out;
    return this.#changed();
  }

  /** One's publish was acknowledged at {seq, epoch}: it stays shown until the state reaches it. */
  ack(cid, ack) {
    if (!Number.isInteger(ack?.seq)) return this.refused(cid);
    const st = this.#settling.get(cid) ?? {};
    st.ackSeq = ack.seq;
    st.ackEpoch = ack.epoch ?? null;
    if (this.pending.some((p) => p.cid === cid)) this.#settling.set(cid, st);
    return this.#dropReached() ? this.#changed() : { layerChanged: false, changed: false };
  }

  /** One's publish was refused (or abandoned): it is not shown any more. */
  refused(cid) {
    return this.#removeCid(cid) ? this.#changed() : { layerChanged: false, changed: false };
  }

  #changed() {
    const before = this.nonAddSig;
    this.#recompute();
    const info = { layerChanged: before !== this.nonAddSig, changed: true };
    this.emit('pending', info);
    return info;
  }

  #recompute() {
    // Adds whose object is folded already are not shown twice.
    const pend = this.pending.filter((p) => !(ADD_KINDS.has(p.kind) && this.#has(this.state, p.payload?.id)));
    this.pendingAddIds = new Set(pend.filter((p) => ADD_KINDS.has(p.kind)).map((p) => p.payload?.id));
    const nonAdd = pend.filter((p) => !ADD_KINDS.has(p.kind));
    this.nonAddSig = nonAdd.map((p) => p.cid).join(',');
    this.#displayOrder = null;
    this.#pend = pend;
    this.#displayDirty = true;
  }

  /** The server state with this page's pending publishes folded on top (computed when read). */
  get display() {
    if (this.#displayDirty) {
      this.#displayDirty = false;
      let s = this.state;
      let seq = this.state.seq;
      const ts = Date.now();
      for (const p of this.#pend) s = reduce('whiteboard', s, { seq: ++seq, ts, author: this.me, kind: p.kind, payload: p.payload ?? {} });
      this.#display = s;
    }
    return this.#display;
  }

  #has(state, id) {
    return typeof id === 'string' && Object.prototype.hasOwnProperty.call(state.objects, id);
  }

  /** Visible objects of the server state, in z-order (cached). */
  committedOrder() {
    if (!this.#order) this.#order = objectsInOrder(this.state);
    return this.#order;
  }

  /** Visible objects of the displayed state, in z-order. */
  displayOrder() {
    if (this.display === this.state) return this.committedOrder();
    if (!this.#displayOrder) this.#displayOrder = objectsInOrder(this.display);
    return this.#displayOrder;
  }

  /**
   * What the cached layer shows: the displayed state without this page's
   * pending adds (those are drawn on top until their events arrive).
   */
  layerOrder() {
    if (!this.nonAddSig) return this.committedOrder();
    return this.displayOrder().filter((o) => !this.pendingAddIds.has(o.id));
  }

  /** This page's pending adds as displayed (visible ones, in order). */
  pendingObjects() {
    if (!this.pendingAddIds.size) return [];
    if (!this.nonAddSig) {
      // Only adds pending: each is drawn from its payload (built once per publish).
      const out = [];
      for (const p of this.#pend) {
        let o = this.#fromPayload.get(p.cid);
        if (!o) {
          o = objectFromPayload(p.kind, p.payload ?? {}, this.me);
          this.#fromPayload.set(p.cid, o);
        }
        out.push(o);
      }
      if (this.#fromPayload.size > 4 * out.length + 64) {
        const live = new Set(this.#pend.map((p) => p.cid));
        for (const k of this.#fromPayload.keys()) if (!live.has(k)) this.#fromPayload.delete(k);
      }
      return out;
    }
    const out = [];
    for (const id of this.pendingAddIds) {
      const o = Object.prototype.hasOwnProperty.call(this.display.objects, id) ? this.display.objects[id] : null;
      if (o && !o.hidden) out.push(o);
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** A visible object of the displayed state by id, or null. */
  object(id) {
    const objs = this.display.objects;
    const o = Object.prototype.hasOwnProperty.call(objs, id) ? objs[id] : null;
    return o && !o.hidden ? o : null;
  }

  /** True while one of this user's actions (not undo/redo) awaits its event. */
  hasPendingActions() {
    return this.pending.some((p) => ACTION_KINDS.has(p.kind) && !(ADD_KINDS.has(p.kind) && this.#has(this.state, p.payload?.id)));
  }

  /** The entry the next undo would revert (pinned by its seq), or null. */
  undoEntry() {
    return undoTop(this.display, this.me);
  }

  /** The entry the next redo would re-apply, or null. */
  redoEntry() {
    return redoTop(this.display, this.me);
  }

  canUndo() { return this.hasPendingActions() || this.undoEntry() !== null; }

  /** A pending action will discard the redo stack. */
  canRedo() { return !this.hasPendingActions() && this.redoEntry() !== null; }

  /** Read-only digest for tests and diagnostics. */
  digest() {
    const vis = this.committedOrder().map((o) => o.id);
    return {
      seq: this.state.seq,
      epoch: this.epoch,
      objects: Object.keys(this.state.objects).length,
      visible: vis,
      seqs: this.committedOrder().map((o) => o.seq),
      pending: this.pending.length,
    };
  }
}

/** Describes a history entry for a tooltip ("Undo: add stroke"). */
export function describeEntry(entry, state) {
  if (!entry) return '';
  const o = entry.id && state?.objects ? state.objects[entry.id] : null;
  const what = o ? (o.type === 'stroke' ? (o.tool === 'eraser' ? 'eraser stroke' : 'stroke') : o.type) : 'object';
  switch (entry.op) {
    case 'add': return `add ${what}`;
    case 'move': return `move ${what}`;
    case 'delete': return `delete ${what}`;
    case 'clear': return 'clear board';
    default: return entry.op;
  }
}
