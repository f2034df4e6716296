// workspace.js — the live side of one open workspace.
//
// Loads its rooms, members and unread counts, and joins every chat room on
// the WebSocket (up to MAX_JOINED), so that unread counts, typing and who is
// online update live in the sidebar while the user reads another room. The
// open chat view subscribes to its room here instead of joining it again:
// one room handle per room and connection. Other rooms (boards,
// whiteboards) are joined while a view subscribes to them, and left
// LEAVE_GRACE_MS after the last one unsubscribed (a quick re-open reuses
// the handle), so that the user does not stay present in them and the
// connection's room limit is not reached.
//
// Unread counts follow the API's definition (last_seq - read_seq in the
// room's epoch): `last` advances with every durable event, `read` with
// every read marker this page sets.

import { Emitter } from './events.js';

const MAX_JOINED = 90;
const UNREAD_REFRESH_MS = 15000;
/** How long a room nobody subscribes to any more stays joined (not chat rooms). */
export const LEAVE_GRACE_MS = 2000;

export class Workspace extends Emitter {
  constructor(session, id) {
    super();
    this.session = session;
    this.api = session.api;
    this.id = id;
    this.info = null;
    this.rooms = [];
    this.members = [];
    this.byUsername = new Map();
    this.byId = new Map();
    /** room -> {last, read, epoch} */
    this.unread = new Map();
    /** room -> RoomHandle */
    this.handles = new Map();
    /** room -> Set of subscribers {onEvent, onEphemeral, onPresence, onReset} */
    this.subs = new Map();
    /** room -> timer of its leave (no subscriber left) */
    this.leaving = new Map();
    this.unlisten = [];
    this.closed = false;
    this.timer = null;
  }

  get role() { return this.info?.role ?? null; }

  async load() {
    const [info, rooms, members, unread] = await Promise.all([
      this.#workspaceInfo(),
      this.api.rooms(this.id),
      this.api.members(this.id),
      this.api.unread(this.id).catch(() => []),
    ]);
    this.info = info;
    this.#setRooms(rooms?.rooms ?? rooms ?? []);
    this.#setMembers(members?.members ?? members ?? []);
    this.#setUnread(unread?.unread ?? unread ?? []);
    this.#joinAll();
    this.unlisten.push(this.session.on('connection', (s) => {
      if (s === 'connected') this.refreshUnread();
    }));
    this.timer = setInterval(() => {
      if (document.visibilityState === 'visible') this.refreshUnread();
    }, UNREAD_REFRESH_MS);
    const onFocus = () => this.refreshUnread();
    window.addEventListener('focus', onFocus);
    this.unlisten.push(() => window.removeEventListener('focus', onFocus));
    return this;
  }

  /** The workspace with the caller's role; 403/404 if not a member. */
  async #workspaceInfo() {
    const r = await this.api.workspace(this.id);
    return r?.workspace ?? r;
  }

  close() {
    this.closed = true;
    clearInterval(this.timer);
    for (const t of this.leaving.values()) clearTimeout(t);
    this.leaving.clear();
    for (const u of this.unlisten.splice(0)) u();
    for (const hd of this.handles.values()) {
      try { hd.leave(); } catch { /* connection gone */ }
    }
    this.handles.clear();
    this.subs.clear();
  }

  // ------------------------------------------------------------ rooms

  #setRooms(rooms) {
    this.rooms = rooms.filter((r) => !r.archived).sort((a, b) => {
      if (a.kind !== b.kind) return a.kind === 'chat' ? -1 : b.kind === 'chat' ? 1 : a.kind.localeCompare(b.kind);
      if (a.name === 'general') return -1;
      if (b.name === 'general') return 1;
      return a.name.localeCompare(b.name);
    });
    this.emit('rooms', this.rooms);
  }

  room(id) {
    return this.rooms.find((r) => r.id === id) ?? null;
  }

  async reloadRooms() {
    const r = await this.api.rooms(this.id);
    this.#setRooms(r?.rooms ?? r ?? []);
    this.#joinAll();
  }

  async createRoom(kind, name) {
    const r = await this.api.createRoom(this.id, kind, name);
    const room = r?.room ?? r;
    await this.reloadRooms();
    return room;
  }

  // ------------------------------------------------------------ members

  #setMembers(members) {
    this.members = members;
    this.byUsername = new Map(members.map((m) => [String(m.username).toLowerCase(), m]));
    this.byId = new Map(members.map((m) => [String(m.user_id), m]));
    this.emit('members', members);
  }

  async reloadMembers() {
    const r = await this.api.members(this.id);
    this.#setMembers(r?.members ?? r ?? []);
    if (this.info) {
      const me = this.byId.get(this.session.userId);
      if (me && me.role !== this.info.role) {
        this.info = { ...this.info, role: me.role };
        this.emit('role', me.role);
      }
    }
  }

  /** Reloads the members when someone unknown shows up (at most every 5 s). */
  #learn(userId) {
    if (userId === undefined || userId === null || this.byId.has(String(userId))) return;
    const now = Date.now();
    if (this.closed || now - (this.lastLearn ?? 0) < 5000) return;
    this.lastLearn = now;
    this.reloadMembers().catch(() => {});
  }

  /** Display name of a user id (string or number). */
  nameOf(userId, fallback) {
    const m = this.byId.get(String(userId));
    if (m) return m.display_name || m.username;
    if (fallback) return fallback;
    return `User ${userId}`;
  }

  // ------------------------------------------------------------ unread

  #setUnread(list) {
    if (!Array.isArray(list)) return;
    // A room someone else created since the list was loaded.
    if (list.some((u) => !this.rooms.some((r) => r.id === u.room))) this.reloadRooms().catch(() => {});
    for (const u of list) {
      const cur = this.unread.get(u.room);
      const mark = this.session.readMarks.get(u.room);
      const last = Math.max(u.last_seq ?? 0, cur && cur.epoch === u.epoch ? cur.last : 0);
      const read = Math.max(u.read_seq ?? 0, cur && cur.epoch === u.epoch ? cur.read : 0,
        mark && mark.epoch === u.epoch ? mark.seq : 0);
      this.unread.set(u.room, { last, read, epoch: u.epoch ?? null, serverUnread: u.unread });
    }
    this.emit('unread');
  }

  async refreshUnread() {
    if (this.closed) return;
    try {
      const r = await this.api.unread(this.id);
      this.#setUnread(r?.unread ?? r ?? []);
    } catch { /* keep the live counts */ }
  }

  unreadCount(room) {
    const u = this.unread.get(room);
    if (!u) return 0;
    return Math.max(0, u.last - u.read);
  }

  #noteEvent(room, ev) {
    if (typeof ev?.seq !== 'number') return;
    const u = this.unread.get(room) ?? { last: 0, read: 0, epoch: ev.epoch ?? null };
    if (ev.epoch !== undefined && u.epoch !== null && ev.epoch !== u.epoch) {
      // A new epoch: the old marker means nothing there.
      u.epoch = ev.epoch;
      u.read = 0;
      u.last = 0;
    }
    if (ev.seq > u.last) u.last = ev.seq;
    if (u.epoch === null && ev.epoch !== undefined) u.epoch = ev.epoch;
    this.unread.set(room, u);
    // One's own message is read by definition: when everything before it
    // was read, the marker moves past it (also when its event arrives after
    // the user left the room).
    if (String(ev.author) === String(this.session.userId) && u.read === ev.seq - 1) {
      this.markRead(room, ev.seq, ev.epoch);
      return;
    }
    this.emit('unread', room);
  }

  /** Records that the user has read room up to seq (optimistically, then on the server). */
  async markRead(room, seq, epoch) {
    const u = this.unread.get(room) ?? { last: seq, read: 0, epoch };
    if (seq <= u.read && (epoch ?? u.epoch) === u.epoch) return;
    u.read = Math.max(u.read, seq);
    u.last = Math.max(u.last, seq);
    if (epoch !== undefined && epoch !== null) u.epoch = epoch;
    this.unread.set(room, u);
    this.session.readMarks.set(room, { seq: u.read, epoch: u.epoch });
    this.emit('unread', room);
    try {
      await this.api.markRead(room, seq, epoch);
    } catch { /* retried with the next marker */ }
  }

  // ------------------------------------------------------------ live rooms

  #joinAll() {
    const client = this.session.client;
    if (!client || this.closed) return;
    const chats = this.rooms.filter((r) => r.kind === 'chat').slice(0, MAX_JOINED);
    for (const room of chats) {
      if (this.handles.has(room.id)) continue;
      this.#join(room.id);
    }
  }

  #join(room) {
    const client = this.session.client;
    const dispatch = (name, ...args) => {
      for (const s of this.subs.get(room) ?? []) s[name]?.(...args);
    };
    const handle = client.join(room, {
      onEvent: (ev) => {
        this.#noteEvent(room, ev);
        this.#learn(ev?.author);
        dispatch('onEvent', ev);
      },
      onEphemeral: (ev) => {
        if (ev?.kind === 'typing') this.#noteTyping(room, ev);
        dispatch('onEphemeral', ev);
      },
      onPresence: (...args) => {
        if (args[0]?.action === 'join') this.#learn(args[0].user);
        dispatch('onPresence', ...args);
        this.emit('presence', room);
      },
      onDirect: (msg) => dispatch('onDirect', msg),
      onReset: (reset) => {
        // The room's history was reloaded from a snapshot (its stream no
        // longer reached back far enough, or a new epoch began).
        if (reset && Number.isInteger(reset.seq)) {
          const u = this.unread.get(room) ?? { last: 0, read: 0, epoch: null };
          if (reset.epoch !== undefined && reset.epoch !== u.epoch) {
            u.epoch = reset.epoch;
            u.read = 0;
          }
          u.last = reset.seq;
          this.unread.set(room, u);
          this.emit('unread', room);
          this.refreshUnread();
        }
        dispatch('onReset', reset);
      },
      onError: (err) => {
        // The room failed for good (e.g. forbidden: removed from the workspace).
        if (this.handles.get(room) === handle) this.handles.delete(room);
        dispatch('onError', err);
        this.emit('joinerror', room, err);
        this.emit('presence', room);
      },
      loadSnapshot: () => this.api.snapshot(room),
    });
    this.handles.set(room, handle);
    Promise.resolve(handle.ready).then(() => this.emit('presence', room), () => { /* reported by onError */ });
    return handle;
  }

  /** The room handle of a chat room (joining it if it was not yet). */
  handle(room) {
    return this.handles.get(room) ?? (this.session.client ? this.#join(room) : null);
  }

  /**
   * Subscribes to one room's live traffic (joining it if need be); returns
   * {handle, unsubscribe}. A room other than a chat room is left a little
   * after its last subscriber has gone.
   */
  subscribe(room, sub) {
    this.#cancelLeave(room);
    if (!this.subs.has(room)) this.subs.set(room, new Set());
    this.subs.get(room).add(sub);
    const handle = this.handle(room);
    let done = false;
    const unsubscribe = () => {
      if (done) return;
      done = true;
      const set = this.subs.get(room);
      set?.delete(sub);
      if (set && set.size === 0) {
        this.subs.delete(room);
        this.#scheduleLeave(room);
      }
    };
    return { handle, unsubscribe };
  }

  /** A chat room of this workspace (joined for its unread count and typing). */
  #isChat(room) {
    const r = this.room(room);
    return r ? r.kind === 'chat' : String(room).startsWith('chat.');
  }

  #cancelLeave(room) {
    const t = this.leaving.get(room);
    if (t === undefined) return;
    clearTimeout(t);
    this.leaving.delete(room);
  }

  #scheduleLeave(room) {
    if (this.closed || this.#isChat(room) || !this.handles.has(room)) return;
    this.#cancelLeave(room);
    this.leaving.set(room, setTimeout(() => this.#leaveIdle(room), LEAVE_GRACE_MS));
  }

  #leaveIdle(room) {
    this.leaving.delete(room);
    if (this.closed || this.subs.get(room)?.size) return;
    const handle = this.handles.get(room);
    if (!handle) return;
    if (handle.pending.length) {
      // Changes still on their way: leaving would drop them. Left once sent.
      const onPending = () => {
        if (handle.pending.length) return;
        handle.removeEventListener('pending', onPending);
        if (this.handles.get(room) === handle && !this.subs.get(room)?.size) this.#scheduleLeave(room);
      };
      handle.addEventListener('pending', onPending);
      return;
    }
    this.handles.delete(room);
    try { handle.leave(); } catch { /* connection gone */ }
    this.emit('presence', room);
  }

  // ------------------------------------------------------------ presence and typing

  /** Users present in a room: Map userId -> {user, name, sessions}. */
  presentIn(room) {
    const out = new Map();
    const pres = this.handles.get(room)?.presence;
    if (!pres) return out;
    for (const [key, p] of pres) {
      const user = String(p?.user ?? key);
      const e = out.get(user) ?? { user, name: p?.name ?? null, sessions: 0 };
      e.sessions++;
      out.set(user, e);
    }
    return out;
  }

  /** Users online anywhere in the workspace (in any joined room). */
  online() {
    const out = new Set();
    for (const room of this.handles.keys()) for (const u of this.presentIn(room).keys()) out.add(u);
    return out;
  }

  #noteTyping(room, ev) {
    this.emit('typing', room, ev);
  }
}
