/**
 * @file client.js — the Chorus WebSocket client (protocol v1, see
 * docs/protocol.md and docs/client.md): one connection to any gateway,
 * rooms with exact resume, durable publishes with idempotent retries.
 *
 * Guarantees to the app, per room:
 *  - durable events reach `onEvent` in seq order, each exactly once, with no
 *    gap — across reconnects, gateway drains and deaths (rejoin with
 *    `since`), and across a history loss (snapshot reset via `onReset`);
 *  - a durable publish is sent with a client id (`cid`) and resent with the
 *    same cid after any error or reconnect until acknowledged, so it is
 *    stored once; its promise resolves once with `{seq, epoch, duplicate}`.
 *
 * Plain ES module without dependencies: runs in browsers and in Node 20
 * (pass `WebSocketImpl`, e.g. the `ws` package's WebSocket).
 *
 * @example
 * const client = new ChorusClient({ urls: 'wss://chat.example.com/ws', getToken: () => api.getToken() });
 * client.connect();
 * const room = client.join('chat.3.7', {
 *   since: snap.seq, epoch: snap.epoch,
 *   onEvent: (ev) => { state = reduce('chat', state, ev); },
 *   loadSnapshot: (r) => api.snapshot(r),
 *   onReset: ({ state: s }) => { state = s; },
 * });
 * await room.publish('message.create', { text: 'hi' });
 */

import { randomId } from './ids.js';

export { randomId };

/** The subprotocol of protocol v1. */
export const SUBPROTOCOL = 'chorus.v1';

/** Error codes that make a publish fail for good (others are retried). */
const PERMANENT_PUBLISH = new Set(['bad_request', 'forbidden', 'invalid_room', 'unknown_type', 'too_large']);
/** Error codes that make a join fail for good (others are retried). */
const PERMANENT_JOIN = new Set(['bad_request', 'forbidden', 'invalid_room', 'too_many_rooms', 'unknown_type']);

const CID_RE = /^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/;   // printable ASCII but space, " and \
const MAX_TIMER = 2 ** 31 - 1;

// Internal methods of RoomHandle that only ChorusClient calls.
const ON_CONNECTED = Symbol('onConnected');
const ON_DISCONNECTED = Symbol('onDisconnected');
const ON_MESSAGE = Symbol('onMessage');
const ON_CLOSED = Symbol('onClosed');

/**
 * An error from the server or the client, with the protocol's error code
 * (`bad_request`, `forbidden`, `not_joined`, `too_large`, `left`, ...).
 */
export class ChorusError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {object} [detail] the server's error message, if any
   */
  constructor(code, message, detail = undefined) {
    super(message);
    this.name = 'ChorusError';
    /** @type {string} */
    this.code = code;
    /** @type {object|undefined} */
    this.detail = detail;
  }
}

/** Random delay in [0, cap): "full jitter". */
function jitter(cap) {
  return Math.floor(Math.random() * cap);
}

/** Exponential backoff with full jitter. */
function backoffDelay({ minMs, maxMs }, attempt) {
  return jitter(Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30)) + 1);
}

/** Bytes of s in UTF-8. */
function utf8Bytes(s) {
  return new TextEncoder().encode(s).length;
}

/**
 * @typedef {object} PresenceEntry
 * @property {string} user     user id (JWT sub)
 * @property {string} [name]   display name
 * @property {string} session  the session, unique in the cluster
 */

/**
 * @typedef {object} JoinOptions
 * @property {number} [since]  last seq the app already has (e.g. a snapshot's seq); events after it are delivered
 * @property {number} [epoch]  the epoch `since` refers to
 * @property {(event: object) => void} [onEvent] each durable event, in seq order, exactly once
 * @property {(event: object) => void} [onEphemeral] ephemeral events of others (cursors, typing, strokes in progress)
 * @property {(change: {action: 'sync'|'join'|'leave', user?: string, name?: string, session?: string,
 *   presence: Map<string, PresenceEntry>}) => void} [onPresence] presence changes ('sync': full list after (re)join)
 * @property {(message: object) => void} [onDirect] direct messages to this session in the room
 * @property {(reset: {seq: number, epoch: number, state: any}) => void} [onReset] the app must replace its
 *   room state with `state` (null when no loadSnapshot was given: reload it yourself); events after `seq` follow
 * @property {(room: string) => Promise<{seq: number, epoch: number, state: any}>} [loadSnapshot] loads the room
 *   snapshot, e.g. `(room) => api.snapshot(room)`
 * @property {(error: ChorusError) => void} [onError] the room failed for good (e.g. `forbidden`: removed from the workspace)
 */

/**
 * @typedef {object} ClientOptions
 * @property {string|string[]} urls WebSocket URLs, tried round-robin
 * @property {(opts?: {force?: boolean}) => Promise<string>} getToken resolves a current access token;
 *   `{force: true}` asks for a newer one than last time (token refresh, or the server said it expired)
 * @property {typeof WebSocket} [WebSocketImpl] default: globalThis.WebSocket
 * @property {{minMs: number, maxMs: number}} [backoff] reconnect backoff (default 250 ms .. 10 s)
 * @property {((level: string, message: string, detail?: object) => void) | {debug?: Function, info?: Function,
 *   warn?: Function, error?: Function}} [log] a logger function or console-like object (default: silent)
 * @property {number} [pingIntervalMs] app-level ping period (default 25000)
 * @property {number} [pongTimeoutMs] a ping without pong for this long drops the connection (default 10000)
 * @property {number} [connectTimeoutMs] no welcome this long after opening drops the attempt (default 10000)
 * @property {number} [refreshBeforeMs] refresh the token this long before it expires (default 60000)
 * @property {number} [stableMs] a connection up this long resets the backoff (default 10000)
 */

/**
 * A connection to a Chorus gateway cluster. Reconnects forever (until
 * close()) with exponential backoff and full jitter, and rejoins every room
 * where it left off.
 *
 * Events (an EventTarget): `state` ({detail: {state}}), `welcome` ({detail:
 * welcome message}), `error` ({detail: {error}}: token or protocol trouble;
 * the client keeps going).
 */
export class ChorusClient extends EventTarget {
  #urls;
  #getToken;
  #WS;
  #backoff;
  #log;
  #opts;

  #started = false;
  #state = 'offline';
  #ws = null;
  #gen = 0;                  // connection generation: stale socket callbacks are ignored
  #urlIndex = 0;
  #attempt = 0;              // reconnect attempts since the last stable connection
  #welcome = null;
  #welcomeAt = 0;
  #forceToken = false;
  #tokenExp = 0;             // current token's exp (server seconds)
  #clockOffset = 0;          // server ms - local ms, from pongs
  #rooms = new Map();        // room -> RoomHandle
  #requests = new Map();     // id -> callback(reply | null)
  #nextId = 1;
  #timers = {};
  #bucket = { tokens: 0, cap: 0, rate: 0, last: 0, pausedUntil: 0 };
  #onOnline = () => { if (this.#state === 'reconnecting' && this.#timers.reconnect) this.#reconnectNow(); };

  /** @param {ClientOptions} options */
  constructor({
    urls, getToken, WebSocketImpl = globalThis.WebSocket, backoff = { minMs: 250, maxMs: 10000 }, log,
    pingIntervalMs = 25000, pongTimeoutMs = 10000, connectTimeoutMs = 10000, refreshBeforeMs = 60000,
    stableMs = 10000,
  } = {}) {
    super();
    this.#urls = (Array.isArray(urls) ? urls : [urls]).filter((u) => typeof u === 'string' && u);
    if (!this.#urls.length) throw new TypeError('ChorusClient: urls must name at least one WebSocket URL');
    if (typeof getToken !== 'function') throw new TypeError('ChorusClient: getToken must be a function');
    if (typeof WebSocketImpl !== 'function') throw new TypeError('ChorusClient: no WebSocket implementation');
    this.#getToken = getToken;
    this.#WS = WebSocketImpl;
    this.#backoff = { minMs: backoff.minMs ?? 250, maxMs: backoff.maxMs ?? 10000 };
    this.#log = log;
    this.#opts = { pingIntervalMs, pongTimeoutMs, connectTimeoutMs, refreshBeforeMs, stableMs };
  }

  /** @returns {'connecting'|'connected'|'reconnecting'|'offline'} */
  get state() { return this.#state; }

  /** This connection's session id (from welcome), or null. */
  get session() { return this.#welcome?.session ?? null; }

  /** The user id (JWT sub) of this connection (from welcome), or null. */
  get user() { return this.#welcome?.user ?? null; }

  /** The last welcome message (node, session, user, limits, token_exp), or null. */
  get welcome() { return this.#welcome; }

  /** The rooms joined on this client: room id -> RoomHandle. */
  get rooms() { return new Map(this.#rooms); }

  /** Starts connecting (no-op if started). */
  connect() {
    if (this.#started) return;
    this.#started = true;
    globalThis.addEventListener?.('online', this.#onOnline);
    this.#setState('connecting');
    this.#open();
  }

  /**
   * Closes the connection and stops reconnecting. Room handles and their
   * queued publishes are kept: connect() again resumes them.
   */
  close() {
    if (!this.#started) return;
    this.#started = false;
    globalThis.removeEventListener?.('online', this.#onOnline);
    this.#clearTimers();
    const ws = this.#ws;
    this.#gen++;
    this.#dropConnection();
    if (ws) { try { ws.close(1000, 'client closed'); } catch { /* already closed */ } }
    for (const h of this.#rooms.values()) h[ON_CLOSED]();
    this.#setState('offline');
  }

  /**
   * Joins a room (now, or as soon as connected) and returns its handle at
   * once. One handle per room: leave() it before joining again.
   * @param {string} room
   * @param {JoinOptions} [options]
   * @returns {RoomHandle}
   */
  join(room, options = {}) {
    if (this.#rooms.has(room)) throw new ChorusError('already_joined', `already joined ${room}: leave it first`);
    const link = {
      request: (msg, cb) => this.#request(msg, cb),
      send: (msg) => this.#send(msg),
      user: () => this.user,
      connected: () => this.#state === 'connected',
      maxMessage: () => this.#welcome?.limits?.max_message ?? 65536,
      takeToken: () => this.#takeToken(),
      pausePublishing: (ms) => { this.#bucket.pausedUntil = Date.now() + ms; },
      backoff: (attempt) => backoffDelay(this.#backoff, attempt),
      forget: (h) => { if (this.#rooms.get(room) === h) this.#rooms.delete(room); },
      log: (level, message, detail) => this.#logAt(level, message, detail),
    };
    const handle = new RoomHandle(room, options, link);
    this.#rooms.set(room, handle);
    if (this.#state === 'connected') handle[ON_CONNECTED]();
    return handle;
  }

  // ------------------------------------------------------------ connection

  #setState(state) {
    if (state === this.#state) return;
    this.#state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: { state } }));
  }

  #logAt(level, message, detail) {
    const log = this.#log;
    if (!log) return;
    try {
      if (typeof log === 'function') log(level, message, detail);
      else log[level]?.(`chorus: ${message}`, detail ?? '');
    } catch { /* a logger must not break the client */ }
  }

  #emitError(error) {
    this.#logAt('warn', error.message, { code: error.code });
    this.dispatchEvent(new CustomEvent('error', { detail: { error } }));
  }

  #timer(name, ms, fn) {
    clearTimeout(this.#timers[name]);
    this.#timers[name] = setTimeout(() => { delete this.#timers[name]; fn(); }, Math.min(Math.max(0, ms), MAX_TIMER));
  }

  #clearTimer(name) {
    clearTimeout(this.#timers[name]);
    delete this.#timers[name];
  }

  #clearTimers() {
    for (const name of Object.keys(this.#timers)) this.#clearTimer(name);
  }

  async #open() {
    const gen = ++this.#gen;
    let token;
    try {
      const force = this.#forceToken;
      this.#forceToken = false;
      token = await this.#getToken({ force });
      if (typeof token !== 'string' || !token) throw new ChorusError('no_token', 'getToken() gave no token');
    } catch (err) {
      if (gen !== this.#gen || !this.#started) return;
      this.#emitError(err instanceof ChorusError ? err : new ChorusError('token', `getToken() failed: ${err?.message ?? err}`));
      this.#scheduleReconnect(backoffDelay(this.#backoff, this.#attempt++));
      return;
    }
    if (gen !== this.#gen || !this.#started) return;
    const url = this.#urls[this.#urlIndex++ % this.#urls.length];
    let ws;
    try {
      ws = new this.#WS(url, [SUBPROTOCOL, `bearer.${token}`]);
    } catch (err) {
      this.#emitError(new ChorusError('connect', `cannot open ${url}: ${err?.message ?? err}`));
      this.#scheduleReconnect(backoffDelay(this.#backoff, this.#attempt++));
      return;
    }
    this.#ws = ws;
    this.#logAt('debug', 'connecting', { url });
    ws.onmessage = (e) => { if (gen === this.#gen) this.#onMessage(e.data); };
    ws.onclose = (e) => { if (gen === this.#gen) this.#onClose(e.code, e.reason); };
    ws.onerror = () => { /* a close event follows */ };
    this.#timer('connect', this.#opts.connectTimeoutMs, () => this.#abandon('no welcome in time'));
  }

  /** Gives up the current socket at once (dead or draining) and reconnects. */
  #abandon(why, { code = 4000, prompt = false, afterMs = 0 } = {}) {
    const ws = this.#ws;
    this.#logAt('info', `dropping connection: ${why}`);
    this.#gen++;
    if (ws) { try { ws.close(code === 1000 ? 1000 : 4000, why.slice(0, 100)); } catch { /* ignore */ } }
    this.#lost(prompt ? { afterMs } : null);
  }

  #onClose(code, reason) {
    this.#gen++;
    const drain = code === 1001;
    const expired = code === 1008 && /token|expired/i.test(reason ?? '');
    this.#logAt('info', 'connection closed', { code, reason });
    if (expired) this.#forceToken = true;
    this.#lost(drain || expired ? { afterMs: 0 } : null);
  }

  /** Forgets the socket and everything bound to it. */
  #dropConnection() {
    this.#ws = null;
    this.#welcome = null;
    for (const name of ['connect', 'ping', 'pong', 'refresh', 'stable']) this.#clearTimer(name);
    const pending = [...this.#requests.values()];
    this.#requests.clear();
    for (const cb of pending) cb(null);
    for (const h of this.#rooms.values()) h[ON_DISCONNECTED]();
  }

  /** The connection is gone: reconnect promptly (drain, expiry) or with backoff. */
  #lost(prompt) {
    const wasUpFor = this.#welcomeAt ? Date.now() - this.#welcomeAt : 0;
    this.#welcomeAt = 0;
    this.#dropConnection();
    if (!this.#started) return;
    if (wasUpFor >= this.#opts.stableMs) this.#attempt = 0;
    this.#setState('reconnecting');
    const delay = prompt ? prompt.afterMs + jitter(300) : backoffDelay(this.#backoff, this.#attempt++);
    this.#scheduleReconnect(delay);
  }

  #scheduleReconnect(ms) {
    this.#logAt('debug', `reconnecting in ${ms} ms`);
    this.#timer('reconnect', ms, () => this.#open());
  }

  #reconnectNow() {
    this.#clearTimer('reconnect');
    this.#open();
  }

  #send(msg) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
      return true;
    } catch {
      return false;
    }
  }

  /** Sends msg with a fresh id; cb gets the reply, or null if the connection goes first. */
  #request(msg, cb) {
    if (this.#state !== 'connected') return null;
    const id = this.#nextId++;
    if (!this.#send({ ...msg, id })) return null;
    this.#requests.set(id, cb);
    return id;
  }

  /** Client-side publish rate limit, a little under the server's (1 s burst). */
  #takeToken() {
    const b = this.#bucket;
    const now = Date.now();
    if (now < b.pausedUntil) return b.pausedUntil - now;
    b.tokens = Math.min(b.cap, b.tokens + ((now - b.last) * b.rate) / 1000);
    b.last = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / b.rate);
  }

  #onMessage(data) {
    let msg;
    try {
      msg = JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data));
    } catch {
      this.#logAt('warn', 'unparsable message from server');
      return;
    }
    if (msg === null || typeof msg !== 'object') return;
    if (msg.id !== undefined && this.#requests.has(msg.id) && msg.type !== 'event') {
      const cb = this.#requests.get(msg.id);
      this.#requests.delete(msg.id);
      cb(msg);
      return;
    }
    switch (msg.type) {
      case 'welcome':
        this.#onWelcome(msg);
        return;
      case 'reconnect':
        this.#abandon(`server asked to reconnect (${msg.reason ?? 'draining'})`,
          { code: 1000, prompt: true, afterMs: Number.isFinite(msg.after_ms) ? msg.after_ms : 0 });
        return;
      case 'event':
      case 'presence':
      case 'direct':
      case 'error':
        if (typeof msg.room === 'string' && this.#rooms.has(msg.room)) {
          this.#rooms.get(msg.room)[ON_MESSAGE](msg);
        } else if (msg.type === 'error') {
          this.#emitError(new ChorusError(msg.code ?? 'error', msg.message ?? 'server error', msg));
        }
        return;
      default:
        // pong and authed carry ids and are handled by their requests; others are ignored
    }
  }

  #onWelcome(msg) {
    const first = this.#welcome === null;
    this.#welcome = msg;
    if (!first) return;
    this.#clearTimer('connect');
    this.#welcomeAt = Date.now();
    const rate = Number(msg.limits?.publish_rate) > 0 ? Number(msg.limits.publish_rate) : 100;
    const r = Math.max(1, rate * 0.9);
    this.#bucket = { tokens: r, cap: r, rate: r, last: Date.now(), pausedUntil: 0 };
    this.#tokenExp = Number(msg.token_exp) || 0;
    this.#logAt('info', 'connected', { node: msg.node, session: msg.session });
    this.#setState('connected');
    this.dispatchEvent(new CustomEvent('welcome', { detail: msg }));
    this.#schedulePing();
    this.#scheduleRefresh();
    for (const h of this.#rooms.values()) h[ON_CONNECTED]();
  }

  // ------------------------------------------------------------ ping

  #schedulePing() {
    this.#timer('ping', this.#opts.pingIntervalMs, () => this.#ping());
  }

  #ping() {
    const sent = Date.now();
    const id = this.#request({ type: 'ping' }, (reply) => {
      if (!reply) return;
      this.#clearTimer('pong');
      const now = Date.now();
      if (Number.isFinite(reply.ts)) this.#clockOffset = reply.ts - (sent + now) / 2;
      this.#schedulePing();
    });
    if (id === null) return;
    this.#timer('pong', this.#opts.pongTimeoutMs, () => this.#abandon('no pong in time'));
  }

  // ------------------------------------------------------------ token refresh

  /**
   * Schedules the auth refresh refreshBeforeMs before the token's exp (or
   * halfway through what is left, for tokens shorter than twice that).
   */
  #scheduleRefresh(minDelay = 0) {
    if (!this.#tokenExp) return;
    const left = this.#tokenExp * 1000 - (Date.now() + this.#clockOffset);
    const due = left - Math.min(this.#opts.refreshBeforeMs, left / 2);
    this.#timer('refresh', Math.max(minDelay, due), () => this.#refresh());
  }

  async #refresh() {
    const gen = this.#gen;
    let token;
    try {
      token = await this.#getToken({ force: true });   // a newer token than the connection's
    } catch (err) {
      if (gen !== this.#gen) return;
      this.#emitError(new ChorusError('token', `getToken() failed: ${err?.message ?? err}`));
      this.#timer('refresh', 10000, () => this.#refresh());
      return;
    }
    if (gen !== this.#gen || this.#state !== 'connected') return;
    const before = this.#tokenExp;
    this.#request({ type: 'auth', token }, (reply) => {
      if (!reply) return;
      if (reply.type === 'authed' && Number(reply.exp) > before) {
        this.#tokenExp = Number(reply.exp);
        this.#logAt('debug', 'token refreshed', { exp: reply.exp });
        this.#scheduleRefresh(1000);
        return;
      }
      if (reply.type === 'error') {
        this.#emitError(new ChorusError(reply.code ?? 'auth_failed', `token refresh refused: ${reply.message ?? ''}`, reply));
      }
      // Not refreshed (refused, or the same token again): try again later;
      // if the token runs out first, the server closes with 1008 and the
      // client reconnects with a fresh one.
      const left = this.#tokenExp * 1000 - (Date.now() + this.#clockOffset);
      this.#timer('refresh', Math.min(30000, Math.max(5000, left / 2)), () => this.#refresh());
    });
  }
}

/**
 * One joined room on a ChorusClient (from `client.join()`). Tracks the last
 * seq delivered, resumes after reconnects, and queues durable publishes
 * until they are acknowledged.
 *
 * Events (an EventTarget): `pending` (the pending list changed), `joined`
 * ({detail: {seq, epoch}} after every (re)join), `reset` (after onReset),
 * `error` ({detail: {error}}, the room failed for good).
 */
export class RoomHandle extends EventTarget {
  /** The room id. @type {string} */
  room;
  /**
   * Who is in the room: session -> {user, name, session}. The same Map
   * object for the handle's whole life (refilled at every (re)join).
   * @type {Map<string, PresenceEntry>}
   */
  presence = new Map();
  /**
   * Resolves with `{seq, epoch}` (the room's position at that moment) on the
   * first `joined`; rejects if the join fails for good or the room is left
   * first.
   * @type {Promise<{seq: number, epoch: number}>}
   */
  ready;

  #link;
  #opts;
  #seq = null;
  #epoch = null;
  #status = 'joining';   // joining | joined | loading | failed | left
  #joinId = null;        // id of the join request in flight
  #resetOnJoin = false;  // a snapshot reset without loadSnapshot: report it at the next joined
  #queue = [];           // {cid, kind, payload, resolve, reject, inFlight}
  #joinAttempt = 0;
  #publishAttempt = 0;
  #timers = {};
  #resolveReady;
  #rejectReady;
  #readyDone = false;

  /**
   * Created by ChorusClient.join(); not meant to be constructed directly.
   * @param {string} room
   * @param {JoinOptions} opts
   * @param {object} link the client's internal interface
   */
  constructor(room, opts, link) {
    super();
    this.room = room;
    this.#opts = opts;
    this.#link = link;
    if (Number.isInteger(opts.since) && opts.since >= 0) {
      this.#seq = opts.since;
      this.#epoch = opts.epoch ?? null;
    }
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => { /* handled by whoever awaits it */ });
  }

  /** Last seq delivered to onEvent (or the `since` given), or null before the first join. */
  get seq() { return this.#seq; }

  /** The room's epoch as far as known, or null. */
  get epoch() { return this.#epoch; }

  /** 'joining' | 'joined' | 'loading' (snapshot) | 'failed' | 'left' */
  get status() { return this.#status; }

  /**
   * Durable publishes not acknowledged yet, oldest first, for optimistic UI.
   * @returns {{cid: string, kind: string, payload: any}[]}
   */
  get pending() {
    return this.#queue.map(({ cid, kind, payload }) => ({ cid, kind, payload }));
  }

  /**
   * Publishes a durable event. Queued while offline or not joined; sent in
   * order; resent with the same cid after errors and reconnects until
   * acknowledged, so it is stored exactly once.
   * @param {string} kind event kind, e.g. "message.create"
   * @param {any} payload any JSON value
   * @param {{cid?: string}} [opts] client message id (default: random); publishing a cid that is still
   *   pending returns the same promise
   * @returns {Promise<{seq: number, epoch: number, duplicate: boolean}>} rejects with a ChorusError only for
   *   permanent failures (bad_request, forbidden, too_large, left, ...)
   */
  publish(kind, payload, { cid } = {}) {
    if (this.#status === 'left' || this.#status === 'failed') {
      return Promise.reject(new ChorusError(this.#status, `room ${this.room} is ${this.#status}`));
    }
    const id = cid ?? `c${randomId(15)}`;
    if (typeof id !== 'string' || !CID_RE.test(id)) {
      return Promise.reject(new ChorusError('bad_request', 'cid must be 1-64 printable ASCII characters without space, " or \\'));
    }
    const existing = this.#queue.find((q) => q.cid === id);
    if (existing) return existing.promise;
    const item = { cid: id, kind, payload: payload === undefined ? null : payload, inFlight: false };
    item.promise = new Promise((resolve, reject) => { item.resolve = resolve; item.reject = reject; });
    let body;
    try {
      body = JSON.stringify({ type: 'publish', id: 0x7fffffff, room: this.room, kind, cid: id, payload: item.payload });
    } catch (err) {
      return Promise.reject(new ChorusError('bad_request', `payload is not JSON: ${err?.message ?? err}`));
    }
    if (body === undefined || utf8Bytes(body) > this.#link.maxMessage()) {
      return Promise.reject(new ChorusError('too_large', `publish larger than the ${this.#link.maxMessage()} byte message limit`));
    }
    this.#queue.push(item);
    this.#changed();
    this.#flush();
    return item.promise;
  }

  /**
   * Sends an ephemeral event to the others in the room (not stored, no seq).
   * Dropped while offline, not joined, or over the publish rate.
   * @param {string} kind
   * @param {any} payload
   * @returns {boolean} true if sent
   */
  publishEphemeral(kind, payload) {
    return this.#sendLight({ type: 'publish', room: this.room, kind, ephemeral: true, payload });
  }

  /**
   * Sends a direct message to one session or every session of one user in
   * this room. Dropped while offline, not joined, or over the publish rate.
   * @param {{session: string}|{user: string}} to
   * @param {string} kind
   * @param {any} payload
   * @returns {boolean} true if sent
   */
  direct(to, kind, payload) {
    return this.#sendLight({ type: 'direct', room: this.room, to, kind, payload });
  }

  /**
   * Leaves the room: the server is told, pending publishes are rejected
   * (code `left`), and the handle is dead.
   */
  leave() {
    if (this.#status === 'left') return;
    const wasMember = this.#status === 'joined' || this.#joinId !== null;
    this.#finish('left', new ChorusError('left', `left room ${this.room}`));
    if (wasMember && this.#link.connected()) this.#link.request({ type: 'leave', room: this.room }, () => {});
  }

  // ------------------------------------------------------------ called by the client

  [ON_CONNECTED]() {
    if (this.#status === 'joining' || this.#status === 'joined') this.#sendJoin();
  }

  [ON_DISCONNECTED]() {
    this.#joinId = null;
    for (const q of this.#queue) q.inFlight = false;
    if (this.#status === 'joined') this.#status = 'joining';
    this.#clearTimer('join');
    this.#clearTimer('flush');
  }

  [ON_CLOSED]() {
    this.#clearTimer('join');
    this.#clearTimer('flush');
    this.#clearTimer('snapshot');
  }

  [ON_MESSAGE](msg) {
    if (this.#status === 'left' || this.#status === 'failed') return;
    switch (msg.type) {
      case 'event':
        if (msg.ephemeral) {
          if (this.#status === 'joined') this.#call('onEphemeral', msg);
        } else {
          this.#onEvent(msg);
        }
        return;
      case 'presence':
        this.#onPresence(msg);
        return;
      case 'direct':
        this.#call('onDirect', msg);
        return;
      case 'error':
        this.#onError(msg);
        break;
      default:
    }
  }

  // ------------------------------------------------------------ internals

  #timer(name, ms, fn) {
    clearTimeout(this.#timers[name]);
    this.#timers[name] = setTimeout(() => { delete this.#timers[name]; fn(); }, Math.max(0, ms));
  }

  #clearTimer(name) {
    clearTimeout(this.#timers[name]);
    delete this.#timers[name];
  }

  #call(name, arg) {
    const fn = this.#opts[name];
    if (typeof fn !== 'function') return;
    try {
      fn(arg);
    } catch (err) {
      this.#link.log('error', `${name} handler threw: ${err?.message ?? err}`, { room: this.room });
    }
  }

  #changed() {
    this.dispatchEvent(new Event('pending'));
  }

  #sendLight(msg) {
    if (this.#status !== 'joined' || !this.#link.connected()) return false;
    let text;
    try {
      text = JSON.stringify(msg);
    } catch {
      return false;
    }
    if (this.#link.takeToken() > 0) return false;
    if (text === undefined || utf8Bytes(text) > this.#link.maxMessage()) return false;
    return this.#link.send(text);
  }

  #sendJoin() {
    if (!this.#link.connected()) return;
    const req = { type: 'join', room: this.room };
    if (this.#seq !== null) {
      req.since = this.#seq;
      if (this.#epoch !== null) req.epoch = this.#epoch;
    }
    this.#status = this.#status === 'joined' ? 'joined' : 'joining';
    let id = null;
    id = this.#link.request(req, (reply) => { if (id === this.#joinId) this.#onJoinReply(reply); });
    this.#joinId = id;
  }

  #onJoinReply(reply) {
    this.#joinId = null;
    if (!reply || this.#status === 'left' || this.#status === 'failed') return;
    if (reply.type === 'joined') {
      this.#status = 'joined';
      this.#joinAttempt = 0;
      if (this.#seq === null) this.#seq = reply.seq;
      this.#epoch = reply.epoch;
      if (this.#resetOnJoin) {
        this.#resetOnJoin = false;
        this.#call('onReset', { seq: this.#seq, epoch: this.#epoch, state: null });
        this.dispatchEvent(new Event('reset'));
      }
      this.presence.clear();
      for (const p of Array.isArray(reply.presence) ? reply.presence : []) {
        if (p && typeof p.session === 'string') this.presence.set(p.session, { user: p.user, name: p.name, session: p.session });
      }
      this.#call('onPresence', { action: 'sync', presence: this.presence });
      if (!this.#readyDone) {
        this.#readyDone = true;
        this.#resolveReady({ seq: reply.seq, epoch: reply.epoch });
      }
      this.dispatchEvent(new CustomEvent('joined', { detail: { seq: reply.seq, epoch: reply.epoch } }));
      this.#flush();
      return;
    }
    if (reply.type === 'error') this.#onError(reply);
  }

  #onError(err) {
    const code = err.code;
    if (code === 'snapshot_required') {
      this.#loadSnapshot(err);
      return;
    }
    if (PERMANENT_JOIN.has(code)) {
      this.#finish('failed', new ChorusError(code, err.message ?? `room ${this.room}: ${code}`, err));
      return;
    }
    // unavailable (Redis), a failed catch-up read, or anything unknown: rejoin later.
    if (this.#status === 'joined') this.#status = 'joining';
    this.#link.log('info', `room ${this.room}: ${code}; rejoining`, err);
    this.#timer('join', this.#link.backoff(this.#joinAttempt++), () => this.#sendJoin());
  }

  async #loadSnapshot(err) {
    this.#status = 'loading';
    this.#joinId = null;
    const load = this.#opts.loadSnapshot;
    if (typeof load !== 'function') {
      // No snapshot source: restart live from the room's current position;
      // the app reloads what it shows in onReset.
      this.#seq = null;
      this.#epoch = null;
      this.#resetOnJoin = true;
      this.#status = 'joining';
      this.#sendJoin();
      return;
    }
    this.#link.log('info', `room ${this.room}: loading snapshot`, { seq: err.seq, epoch: err.epoch });
    let snap;
    try {
      snap = await load(this.room);
      if (!snap || !Number.isInteger(snap.seq) || snap.seq < 0) throw new Error('snapshot without an integer seq');
    } catch (e) {
      if (this.#status !== 'loading') return;
      this.#link.log('warn', `room ${this.room}: snapshot failed: ${e?.message ?? e}`);
      this.#timer('snapshot', this.#link.backoff(this.#joinAttempt++), () => this.#loadSnapshot(err));
      return;
    }
    if (this.#status !== 'loading') return;
    this.#seq = snap.seq;
    this.#epoch = snap.epoch ?? null;
    this.#call('onReset', { seq: snap.seq, epoch: snap.epoch, state: snap.state });
    this.dispatchEvent(new Event('reset'));
    this.#status = 'joining';
    // A snapshot that is itself too old for the stream would loop: back off.
    if (this.#joinAttempt > 0) this.#timer('join', this.#link.backoff(this.#joinAttempt), () => this.#sendJoin());
    else this.#sendJoin();
    this.#joinAttempt++;
  }

  #onEvent(ev) {
    if (this.#status !== 'joined' && this.#status !== 'joining') return;
    if (this.#seq === null || !Number.isInteger(ev.seq)) return;
    if (this.#epoch !== null && ev.epoch !== undefined && ev.epoch !== this.#epoch) {
      if (this.#status === 'joined' && this.#joinId === null) this.#rejoin('event from another epoch');
      return;
    }
    if (ev.seq <= this.#seq) return;   // a duplicate
    if (ev.seq !== this.#seq + 1) {
      if (this.#status === 'joined' && this.#joinId === null) this.#rejoin(`gap: have ${this.#seq}, got ${ev.seq}`);
      return;
    }
    this.#seq = ev.seq;
    if (this.#epoch === null && ev.epoch !== undefined) this.#epoch = ev.epoch;
    this.#call('onEvent', ev);
    if (typeof ev.cid === 'string' && ev.author === this.#link.user()) {
      const item = this.#queue.find((q) => q.cid === ev.cid);
      if (item) this.#settle(item, { seq: ev.seq, epoch: ev.epoch, duplicate: false });
    }
  }

  #rejoin(why) {
    this.#link.log('warn', `room ${this.room}: ${why}; rejoining from ${this.#seq}`);
    this.#sendJoin();
  }

  #onPresence(msg) {
    if (this.#status !== 'joined' || typeof msg.session !== 'string') return;
    if (msg.action === 'join') {
      this.presence.set(msg.session, { user: msg.user, name: msg.name, session: msg.session });
    } else if (msg.action === 'leave') {
      this.presence.delete(msg.session);
    } else {
      return;
    }
    this.#call('onPresence', { action: msg.action, user: msg.user, name: msg.name, session: msg.session, presence: this.presence });
  }

  /** Sends the queued publishes that are not in flight on this connection. */
  #flush() {
    if (this.#status !== 'joined' || !this.#link.connected()) return;
    for (const item of this.#queue) {
      if (item.inFlight) continue;
      const wait = this.#link.takeToken();
      if (wait > 0) {
        this.#timer('flush', wait, () => this.#flush());
        return;
      }
      const id = this.#link.request(
        { type: 'publish', room: this.room, kind: item.kind, cid: item.cid, payload: item.payload },
        (reply) => this.#onPublishReply(item, reply),
      );
      if (id === null) return;
      item.inFlight = true;
    }
  }

  #onPublishReply(item, reply) {
    item.inFlight = false;
    if (!reply || item.done) return;   // connection lost: resent after the rejoin
    if (reply.type === 'ack') {
      this.#publishAttempt = 0;
      this.#settle(item, { seq: reply.seq, epoch: reply.epoch, duplicate: reply.duplicate === true });
      return;
    }
    const code = reply.type === 'error' ? reply.code : 'bad_reply';
    if (PERMANENT_PUBLISH.has(code)) {
      this.#settle(item, null, new ChorusError(code, reply.message ?? `publish refused: ${code}`, reply));
      return;
    }
    if (code === 'not_joined') {
      if (this.#status === 'joined') {
        this.#status = 'joining';
        this.#rejoin('publish answered not_joined');
      }
      return;
    }
    // rate_limited, unavailable, or unknown: hold publishing, resend with the same cid.
    const wait = this.#link.backoff(this.#publishAttempt++) + (code === 'rate_limited' ? 1000 : 0);
    if (code === 'rate_limited') this.#link.pausePublishing(wait);
    this.#timer('flush', wait, () => this.#flush());
  }

  #settle(item, result, error = null) {
    const i = this.#queue.indexOf(item);
    if (i < 0 || item.done) return;
    item.done = true;
    this.#queue.splice(i, 1);
    if (error) item.reject(error); else item.resolve(result);
    this.#changed();
  }

  /** Ends the handle for good: rejects what waits on it. */
  #finish(status, error) {
    const failed = status === 'failed';
    this.#status = status;
    this.#joinId = null;
    for (const name of Object.keys(this.#timers)) this.#clearTimer(name);
    const queue = this.#queue;
    this.#queue = [];
    for (const item of queue) { item.done = true; item.reject(error); }
    if (queue.length) this.#changed();
    if (!this.#readyDone) {
      this.#readyDone = true;
      this.#rejectReady(error);
    }
    this.#link.forget(this);
    if (failed) {
      this.#link.log('warn', `room ${this.room} failed: ${error.message}`, { code: error.code });
      this.#call('onError', error);
      this.dispatchEvent(new CustomEvent('error', { detail: { error } }));
    }
  }
}
