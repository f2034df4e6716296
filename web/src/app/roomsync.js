// roomsync.js — opening a room exactly: a view's model is a snapshot plus
// the room's durable events after it, each folded once.
//
// The view subscribes to its room first (live events may arrive at once),
// feeds every live event to onEvent() and the room handle's resets to
// onReset(), then calls load(). RoomSync keeps these invariants:
//
//   - events are applied only after a snapshot, exactly once, in seq
//     order and gapless: apply(ev) always gets ev.seq === seq() + 1 in the
//     model's epoch;
//   - events that arrive while a snapshot loads are buffered and folded
//     after it; those at or below the snapshot's seq are not applied
//     (the optional stale(ev) hook sees them: chat settles its own pending
//     messages with them);
//   - a gap (ev.seq > seq() + 1) or an event of another epoch is buffered
//     and the snapshot is reloaded (resync). A reloaded snapshot older than
//     the model (same epoch) is not loaded; while the snapshot is still
//     behind the buffered events, it is reloaded again after 200 ms, then
//     400, ... up to 2 s;
//   - a failed reload is retried after retryMs, doubling up to 10 s; a
//     failed first load is reported to onLoadError (the view offers to try
//     again, which calls load() again);
//   - the buffer holds at most MAX_BUFFER events: beyond that only the
//     highest seq is kept, and the gap it leaves makes the next snapshot
//     load resync;
//   - checkJoin(handle), called after the first load, resyncs once the
//     room is joined if the join point lies above the model or the room's
//     epoch is not the model's: a snapshot requested before the join
//     (prefetch.js) may be older than it, and no live event may come soon
//     to show the gap;
//   - after dispose() (with the view's scope) no hook is called again.
//
//   load() ──ok──▶ live ──gap / epoch──▶ resyncing ──ok──▶ live (buffer flushed)
//     │fail          ▲                     │  │behind
//     ▼              │ onReset(snap)       │  └─▶ wait 200 ms..2 s ─▶ resyncing
//   onLoadError      │                     │fail
//   (Try again)     any state              └─▶ wait retryMs..10 s ─▶ resyncing
//
// Hooks, all synchronous: seq() and epoch() read the model (epoch null when
// unknown); loadSnapshot(snap, cause) replaces the model (cause is 'load',
// 'resync' or 'reset'); apply(ev) folds one event; stale(ev) (optional);
// onLoadError(err) for the first load; onLoaded(cause) (optional) after a
// snapshot was loaded and the buffer folded (or, when the snapshot is behind
// the buffer, the next reload scheduled).

const MAX_RETRY_MS = 10000;
const BEHIND_FIRST_MS = 200;
const BEHIND_MAX_MS = 2000;
export const MAX_BUFFER = 10000;

const realTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id),
};

const hasEpoch = (e) => e !== undefined && e !== null;

export class RoomSync {
  #hooks;
  #snapshot; // () => Promise<snap>: the room's snapshot (first load and resync)
  #timers;
  #retryMs; // first delay after a failed reload
  #buffer = []; // events held back, unordered; bounded by MAX_BUFFER
  #loaded = false; // a snapshot is in the model
  #busy = false; // a snapshot request is in flight
  #timer = null; // a scheduled resync
  #failDelay = 0; // last delay after a failed reload (0: none failed)
  #behindDelay = 0; // last delay while the snapshot was behind
  #disposed = false;

  /**
   * hooks: {snapshot, seq, epoch, loadSnapshot, apply, stale?, onLoadError,
   * onLoaded?} (see above). opts: scope (disposes this with it), retryMs
   * (first retry after a failed reload, default 1000), timers
   * ({setTimeout, clearTimeout}, for tests).
   */
  constructor(hooks, { scope = null, retryMs = 1000, timers = realTimers } = {}) {
    this.#hooks = hooks;
    this.#snapshot = hooks.snapshot;
    this.#timers = timers;
    this.#retryMs = retryMs;
    scope?.add(() => this.dispose());
  }

  /** A snapshot has been loaded. */
  get loaded() { return this.#loaded; }

  /** How many events are held back. */
  get buffered() { return this.#buffer.length; }

  /**
   * The first load (and "Try again" after it failed): loads the snapshot
   * with loader (default: the snapshot hook) and folds what was buffered.
   */
  async load(loader = this.#snapshot) {
    if (this.#disposed) return;
    this.#busy = true;
    try {
      const snap = await loader();
      if (this.#disposed) return;
      this.#hooks.loadSnapshot(snap, 'load');
    } catch (err) {
      if (!this.#disposed) this.#hooks.onLoadError(err);
      return;
    } finally {
      this.#busy = false;
    }
    this.#loaded = true;
    this.#flush();
    this.#hooks.onLoaded?.('load');
  }

  /** A live event from the room handle. */
  onEvent(ev) {
    if (this.#disposed || typeof ev?.seq !== 'number') return;
    if (!this.#loaded || this.#busy) this.#hold(ev);
    else this.#offer(ev);
  }

  /**
   * The room handle's reset: its stream no longer reached the last seq.
   * Loads the snapshot it carries, or reloads one when it has no state.
   */
  onReset(snap) {
    if (this.#disposed) return;
    if (!snap || typeof snap !== 'object' || !snap.state) {
      this.resync();
      return;
    }
    this.#hooks.loadSnapshot(snap, 'reset');
    this.#loaded = true;
    this.#flush();
    this.#hooks.onLoaded?.('reset');
  }

  /**
   * After the first load: once the room handle has joined, reloads the
   * snapshot if the join point lies above the model (the events between
   * them were never delivered live, and no live event may come to show
   * the gap) or the handle's epoch is not the model's. The snapshot may have been requested before the join
   * (prefetch.js), so it can be older than the join point.
   */
  checkJoin(handle) {
    if (!handle) return;
    Promise.resolve(handle.ready).then(() => {
      if (this.#disposed || !this.#loaded) return;
      const epoch = this.#hooks.epoch();
      if (hasEpoch(handle.epoch) && hasEpoch(epoch) && handle.epoch !== epoch) this.resync();
      else if (Number.isInteger(handle.seq) && handle.seq > this.#hooks.seq()) this.resync();
    }, () => { /* the view reports a failed join */ });
  }

  /** Reloads the snapshot (at once, unless a load is in flight or a retry is scheduled). */
  resync() {
    return this.#resync(false);
  }

  dispose() {
    this.#disposed = true;
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#buffer = [];
  }

  async #resync(retry) {
    if (this.#busy || this.#disposed) return;
    if (this.#timer !== null && !retry) return;
    this.#timer = null;
    this.#busy = true;
    let snap;
    let replaced = false;
    try {
      snap = await this.#snapshot();
      if (this.#disposed) return;
      if (this.#newer(snap)) {
        this.#hooks.loadSnapshot(snap, 'resync');
        this.#loaded = true;
        replaced = true;
      }
    } catch {
      // Events keep arriving into the buffer; try again a little later.
      if (this.#disposed) return;
      this.#failDelay = Math.min(MAX_RETRY_MS, this.#failDelay ? this.#failDelay * 2 : this.#retryMs);
      this.#schedule(this.#failDelay);
      return;
    } finally {
      this.#busy = false;
    }
    this.#failDelay = 0;
    if (hasEpoch(snap?.epoch)) this.#buffer = this.#buffer.filter((ev) => !hasEpoch(ev.epoch) || ev.epoch === snap.epoch);
    const seq = this.#hooks.seq();
    const first = this.#buffer.reduce((m, ev) => (ev.seq > seq ? Math.min(m, ev.seq) : m), Infinity);
    if (first !== Infinity && first > seq + 1) {
      // The snapshot has not caught up with the live stream yet.
      this.#behindDelay = Math.min(BEHIND_MAX_MS, this.#behindDelay ? this.#behindDelay * 2 : BEHIND_FIRST_MS);
      this.#schedule(this.#behindDelay);
    } else {
      this.#behindDelay = 0;
      this.#flush();
    }
    if (replaced) this.#hooks.onLoaded?.('resync');
  }

  /** Whether a reloaded snapshot replaces the model: not when it is older in the same epoch. */
  #newer(snap) {
    if (!this.#loaded) return true;
    const epoch = this.#hooks.epoch();
    if (hasEpoch(epoch) && snap?.epoch !== epoch) return true;
    return !Number.isInteger(snap?.seq) || snap.seq >= this.#hooks.seq();
  }

  #schedule(ms) {
    this.#timer = this.#timers.setTimeout(() => this.#resync(true), ms);
  }

  #hold(ev) {
    if (this.#buffer.length >= MAX_BUFFER) {
      // Keep the highest seq: whatever was dropped below it shows as a gap.
      const top = this.#buffer.reduce((a, b) => (b.seq > a.seq ? b : a));
      this.#buffer = ev.seq >= top.seq ? [] : [top];
    }
    this.#buffer.push(ev);
  }

  #flush() {
    const held = this.#buffer.splice(0).sort((a, b) => a.seq - b.seq);
    for (const ev of held) {
      if (this.#disposed) return;
      this.#offer(ev);
    }
  }

  /** One event once a snapshot is in: applied, passed as stale, or held for a resync. */
  #offer(ev) {
    const epoch = this.#hooks.epoch();
    if (hasEpoch(epoch) && hasEpoch(ev.epoch) && ev.epoch !== epoch) {
      this.#hold(ev);
      this.resync();
      return;
    }
    const seq = this.#hooks.seq();
    if (ev.seq <= seq) {
      this.#hooks.stale?.(ev);
      return;
    }
    if (ev.seq > seq + 1) {
      // Missing events in between: reload rather than show a hole.
      this.#hold(ev);
      this.resync();
      return;
    }
    this.#hooks.apply(ev);
  }
}
