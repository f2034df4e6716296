/**
 * @file api.js — a small client for the worker's HTTP API (docs/api.md):
 * accounts with access + refresh tokens, workspaces, members, rooms, boards,
 * cards, history, snapshots and read markers.
 *
 * Every method resolves with the JSON body that docs/api.md documents for
 * its endpoint (null for `204 No Content`), and rejects with an
 * {@link ApiError}. Paths are under `/api/v1`.
 *
 * Tokens: register/login/refresh keep the access token, its expiry and the
 * refresh token in `storage` (a localStorage-like object, so a reload stays
 * signed in; `null` keeps them in memory only). {@link ChorusApi#getToken}
 * hands out a current access token, refreshing it through the single-use
 * refresh token when less than a minute is left. Refreshes are
 * single-flight within the page and, where the Web Locks API exists, across
 * tabs sharing the storage, because presenting a rotated refresh token
 * twice revokes the whole session (`token_reused`).
 *
 * @example
 * const api = new ChorusApi();                 // same origin, localStorage
 * await api.login('alice', 'correct horse');
 * const { workspaces } = await api.workspaces();
 * const client = new ChorusClient({ urls, getToken: (o) => api.getToken(o) });
 */

/** An HTTP API error: the status and the body's `error`, `message` and `field`. */
export class ApiError extends Error {
  /**
   * @param {{status: number, code: string, message?: string, field?: string, body?: any, retryAfter?: number}} info
   */
  constructor({ status, code, message, field, body, retryAfter }) {
    super(message || code);
    this.name = 'ApiError';
    /** HTTP status (0: the request did not reach the server). @type {number} */
    this.status = status;
    /** The body's `error`, e.g. "invalid", "forbidden", "conflict" ("network" for status 0). @type {string} */
    this.code = code;
    /** The input that was wrong, if the server named one. @type {string|undefined} */
    this.field = field;
    /** The whole error body (e.g. a card conflict carries `version` and `card`). */
    this.body = body;
    /** Seconds from a Retry-After header, if any. @type {number|undefined} */
    this.retryAfter = retryAfter;
  }
}

const API_PREFIX = '/api/v1';
const LOCK_NAME = 'chorus-auth-refresh';

function defaultStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;   // storage disabled by the browser
  }
}

/** Encodes one path segment. */
const seg = (v) => encodeURIComponent(String(v));

/** A query string from the defined values of obj ('' if none). */
function query(obj) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) if (v !== undefined && v !== null && v !== false) q.set(k, v === true ? '1' : String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * The HTTP API client. An EventTarget: `auth` ({detail: {user}}) fires when
 * the signed-in user changes (login, register, logout, or the session ended
 * because a refresh was refused: then `user` is null).
 */
export class ChorusApi extends EventTarget {
  #base;
  #storage;
  #key;
  #fetch;
  #refreshBeforeMs;
  #memory = null;        // the auth record when there is no storage
  #refreshing = null;    // the refresh in flight
  #lastToken = null;     // the access token last handed out

  /**
   * @param {object} [options]
   * @param {string} [options.baseUrl] origin of the API ('' = same origin), e.g. "http://127.0.0.1:8081"
   * @param {Storage|null} [options.storage] where tokens persist (default: localStorage if available; null: memory)
   * @param {string} [options.storageKey] storage key (default "chorus.auth")
   * @param {typeof fetch} [options.fetchImpl] default: globalThis.fetch
   * @param {number} [options.refreshBeforeMs] refresh when less than this is left (default 60000)
   */
  constructor({
    baseUrl = '', storage = defaultStorage(), storageKey = 'chorus.auth', fetchImpl = globalThis.fetch?.bind(globalThis),
    refreshBeforeMs = 60000,
  } = {}) {
    super();
    this.#base = String(baseUrl).replace(/\/+$/, '');
    this.#storage = storage;
    this.#key = storageKey;
    this.#fetch = fetchImpl;
    this.#refreshBeforeMs = refreshBeforeMs;
  }

  // ------------------------------------------------------------ auth state

  /** @returns {{access_token: string, access_exp: number, refresh_token: string, user: object}|null} */
  #load() {
    if (!this.#storage) return this.#memory;
    try {
      const raw = this.#storage.getItem(this.#key);
      return raw ? JSON.parse(raw) : null;
    } catch {
      return null;
    }
  }

  #save(rec) {
    if (!this.#storage) {
      this.#memory = rec;
      return;
    }
    try {
      if (rec) this.#storage.setItem(this.#key, JSON.stringify(rec));
      else this.#storage.removeItem(this.#key);
    } catch {
      this.#memory = rec;   // storage full or disabled: keep the session for this page
    }
  }

  /** Keeps a token response; returns it. */
  #keep(body) {
    const before = this.#load()?.user?.id;
    this.#lastToken = body.access_token;
    this.#save({
      access_token: body.access_token,
      access_exp: Date.now() + Number(body.expires_in ?? 0) * 1000,
      refresh_token: body.refresh_token,
      user: body.user ?? null,
    });
    if (before !== body.user?.id) this.#authChanged(body.user ?? null);
    return body;
  }

  #authChanged(user) {
    this.dispatchEvent(new CustomEvent('auth', { detail: { user } }));
  }

  #fresh(rec) {
    return !!rec?.access_token && rec.access_exp - Date.now() > this.#refreshBeforeMs;
  }

  /** A stored record in the shape of a token response. */
  #asTokenResponse(rec) {
    return {
      user: rec.user,
      access_token: rec.access_token,
      token_type: 'Bearer',
      expires_in: Math.max(0, Math.floor((rec.access_exp - Date.now()) / 1000)),
      refresh_token: rec.refresh_token,
    };
  }

  /** The signed-in user ({id, username, display_name, created_at}), or null. */
  get user() { return this.#load()?.user ?? null; }

  /** True if a session (refresh token) is held. */
  get loggedIn() { return !!this.#load()?.refresh_token; }

  /**
   * POST /auth/register. Signs in as the new user.
   * @param {string} username 3..32 of a-z 0-9 _ . -
   * @param {string} password 8..256 characters
   * @param {string} [displayName]
   * @returns {Promise<object>} the token response {user, access_token, expires_in, refresh_token, ...}
   */
  async register(username, password, displayName = undefined) {
    const body = { username, password };
    if (displayName !== undefined && displayName !== '') body.display_name = displayName;
    return this.#keep(await this.request('POST', '/auth/register', body, { auth: false }));
  }

  /**
   * POST /auth/login.
   * @param {string} username
   * @param {string} password
   * @returns {Promise<object>} the token response
   */
  async login(username, password) {
    return this.#keep(await this.request('POST', '/auth/login', { username, password }, { auth: false }));
  }

  /**
   * POST /auth/logout: revokes the refresh token and forgets the session
   * (locally even if the server cannot be reached).
   * @returns {Promise<null>}
   */
  async logout() {
    const rec = this.#load();
    this.#save(null);
    this.#lastToken = null;
    if (rec?.user) this.#authChanged(null);
    if (rec?.refresh_token) {
      try {
        await this.request('POST', '/auth/logout', { refresh_token: rec.refresh_token }, { auth: false });
      } catch { /* the token expires on its own */ }
    }
    return null;
  }

  /**
   * GET /auth/me.
   * @returns {Promise<{user: object}>}
   */
  async me() {
    const body = await this.request('GET', '/auth/me');
    const rec = this.#load();
    if (rec && body?.user) this.#save({ ...rec, user: body.user });
    return body;
  }

  /**
   * POST /auth/refresh with the stored refresh token (rotating it). A
   * refused refresh (401) ends the session.
   * @returns {Promise<object>} the token response
   */
  refresh() {
    return this.#singleFlight(() => this.#refreshNow());
  }

  async #refreshNow() {
    const rec = this.#load();
    if (!rec?.refresh_token) throw new ApiError({ status: 401, code: 'unauthorized', message: 'not signed in' });
    try {
      return this.#keep(await this.request('POST', '/auth/refresh', { refresh_token: rec.refresh_token }, { auth: false }));
    } catch (err) {
      // Another tab may have rotated the token meanwhile: then its result stands.
      const now = this.#load();
      if (err.status === 401 && now?.refresh_token === rec.refresh_token) {
        this.#save(null);
        this.#authChanged(null);
      }
      throw err;
    }
  }

  /** Runs fn once at a time in this page, and under a cross-tab lock when available. */
  #singleFlight(fn) {
    if (!this.#refreshing) {
      const locks = globalThis.navigator?.locks;
      const run = locks?.request ? locks.request(LOCK_NAME, fn) : fn();
      this.#refreshing = run.finally(() => { this.#refreshing = null; });
    }
    return this.#refreshing;
  }

  /**
   * A current access token: the stored one while more than a minute is
   * left, else a refreshed one. `{force: true}` (the server refused the
   * token) refreshes unless the stored token already differs from the one
   * last handed out. Rejects with ApiError 401 when signed out.
   * @param {{force?: boolean}} [opts]
   * @returns {Promise<string>}
   */
  async getToken({ force = false } = {}) {
    const rec = this.#load();
    if (this.#fresh(rec) && !(force && rec.access_token === this.#lastToken)) {
      this.#lastToken = rec.access_token;
      return rec.access_token;
    }
    const stale = this.#lastToken;
    const { access_token: token } = await this.#singleFlight(async () => {
      const now = this.#load();   // another tab or call may have refreshed already
      if (this.#fresh(now) && !(force && now.access_token === stale)) return this.#asTokenResponse(now);
      return this.#refreshNow();
    });
    this.#lastToken = token;
    return token;
  }

  // ------------------------------------------------------------ requests

  /**
   * A JSON request to the API. `path` is relative to /api/v1 (e.g.
   * "/workspaces"); a path starting with "/api/" is used as is.
   * Authenticated with a current access token unless `auth` is false; a 401
   * is retried once with a refreshed token.
   * @param {string} method
   * @param {string} path
   * @param {any} [body] sent as JSON when defined
   * @param {{auth?: boolean}} [opts]
   * @returns {Promise<any>} the parsed body, or null for 204
   * @throws {ApiError}
   */
  async request(method, path, body = undefined, { auth = true } = {}) {
    const url = this.#base + (path.startsWith('/api/') ? path : API_PREFIX + path);
    for (let attempt = 0; ; attempt++) {
      const headers = { Accept: 'application/json' };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      if (auth) headers.Authorization = `Bearer ${await this.getToken({ force: attempt > 0 })}`;
      let res;
      try {
        res = await this.#fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      } catch (err) {
        throw new ApiError({ status: 0, code: 'network', message: `${method} ${path}: ${err?.message ?? err}` });
      }
      const text = res.status === 204 ? '' : await res.text();
      let json = null;
      if (text) {
        try { json = JSON.parse(text); } catch { json = null; }
      }
      if (res.ok) return json;
      if (res.status === 401 && auth && attempt === 0 && json?.error !== 'token_reused') continue;
      const ra = Number(res.headers.get('Retry-After'));
      throw new ApiError({
        status: res.status,
        code: json?.error ?? `http_${res.status}`,
        message: json?.message ?? `${method} ${path}: HTTP ${res.status}`,
        field: json?.field,
        body: json,
        retryAfter: Number.isFinite(ra) && ra > 0 ? ra : undefined,
      });
    }
  }

  // ------------------------------------------------------------ workspaces and members

  /** GET /workspaces → {workspaces} */
  workspaces() { return this.request('GET', '/workspaces'); }

  /** GET /workspaces/{id} → {workspace} */
  workspace(id) { return this.request('GET', `/workspaces/${seg(id)}`); }

  /** POST /workspaces → {workspace, rooms: [general]} */
  createWorkspace(name) { return this.request('POST', '/workspaces', { name }); }

  /** PATCH /workspaces/{id} → {workspace} (owners, admins) */
  renameWorkspace(id, name) { return this.request('PATCH', `/workspaces/${seg(id)}`, { name }); }

  /** DELETE /workspaces/{id} → null (owners) */
  deleteWorkspace(id) { return this.request('DELETE', `/workspaces/${seg(id)}`); }

  /** GET /workspaces/{ws}/members → {members} */
  members(ws) { return this.request('GET', `/workspaces/${seg(ws)}/members`); }

  /**
   * POST /workspaces/{ws}/members → {member}
   * @param {number|string} ws
   * @param {string|number} username a username, or a numeric user id
   * @param {'member'|'admin'} [role]
   */
  addMember(ws, username, role = 'member') {
    const who = typeof username === 'number' ? { user_id: username } : { username };
    return this.request('POST', `/workspaces/${seg(ws)}/members`, { ...who, role });
  }

  /** PATCH /workspaces/{ws}/members/{userId} → {member} */
  setRole(ws, userId, role) { return this.request('PATCH', `/workspaces/${seg(ws)}/members/${seg(userId)}`, { role }); }

  /** DELETE /workspaces/{ws}/members/{userId} → null (your own id: leave) */
  removeMember(ws, userId) { return this.request('DELETE', `/workspaces/${seg(ws)}/members/${seg(userId)}`); }

  /** GET /workspaces/{ws}/unread → [{room, kind, unread, last_seq, epoch, read_seq}] */
  unread(ws) { return this.request('GET', `/workspaces/${seg(ws)}/unread`); }

  // ------------------------------------------------------------ rooms and boards

  /**
   * GET /workspaces/{ws}/rooms → {rooms}
   * @param {number|string} ws
   * @param {{kind?: string, archived?: boolean}} [opts]
   */
  rooms(ws, { kind, archived } = {}) {
    return this.request('GET', `/workspaces/${seg(ws)}/rooms${query({ kind, archived })}`);
  }

  /**
   * POST /workspaces/{ws}/rooms → {room}
   * @param {number|string} ws
   * @param {'chat'|'whiteboard'|'board'} kind
   * @param {string} name
   * @param {string} [description] boards only
   */
  createRoom(ws, kind, name, description = undefined) {
    const body = { kind, name };
    if (description !== undefined) body.description = description;
    return this.request('POST', `/workspaces/${seg(ws)}/rooms`, body);
  }

  /** GET /rooms/{room} → {room} (with the caller's role) */
  room(room) { return this.request('GET', `/rooms/${seg(room)}`); }

  /** PATCH /rooms/{room} with {name?, description?} → {room} (admins, owners) */
  updateRoom(room, fields) { return this.request('PATCH', `/rooms/${seg(room)}`, fields); }

  /** DELETE /rooms/{room} (archives it) → null (admins, owners) */
  archiveRoom(room) { return this.request('DELETE', `/rooms/${seg(room)}`); }

  /** GET /workspaces/{ws}/boards → {boards} */
  boards(ws) { return this.request('GET', `/workspaces/${seg(ws)}/boards`); }

  /** POST /workspaces/{ws}/boards → {board} */
  createBoard(ws, name, description = undefined) {
    const body = { name };
    if (description !== undefined) body.description = description;
    return this.request('POST', `/workspaces/${seg(ws)}/boards`, body);
  }

  // ------------------------------------------------------------ history, snapshots, read markers

  /**
   * GET /rooms/{room}/events → {events, epoch, has_more} (ascending seq)
   * @param {string} room
   * `card` (boards only) keeps the events about that card: card.* events
   * whose payload.id is it and comment.* events whose payload.card is it.
   * @param {{before?: number, after?: number, limit?: number, epoch?: number, card?: string}} [opts]
   */
  history(room, { before, after, limit, epoch, card } = {}) {
    return this.request('GET', `/rooms/${seg(room)}/events${query({ before, after, limit, epoch, card })}`);
  }

  /** GET /rooms/{room}/snapshot → {room, kind, seq, epoch, state} (fits ChorusClient's loadSnapshot) */
  snapshot(room) { return this.request('GET', `/rooms/${seg(room)}/snapshot`); }

  /** PUT /rooms/{room}/read → {room, seq, epoch} (the stored marker, never moving back) */
  markRead(room, seq, epoch) { return this.request('PUT', `/rooms/${seg(room)}/read`, { seq, epoch }); }

  /**
   * POST /rooms/{room}/events (server-side publish) → {room, seq, epoch, cid, duplicate}
   * @param {string} room
   * @param {string} kind
   * @param {any} payload
   * @param {{cid?: string}} [opts]
   */
  publish(room, kind, payload, { cid } = {}) {
    const body = { kind, payload };
    if (cid !== undefined) body.cid = cid;
    return this.request('POST', `/rooms/${seg(room)}/events`, body);
  }

  // ------------------------------------------------------------ named versions

  /** GET /rooms/{room}/versions → {versions: [{id, room, epoch, seq, name, created_by, created_at}]} newest first */
  versions(room) { return this.request('GET', `/rooms/${seg(room)}/versions`); }

  /** POST /rooms/{room}/versions with {name, seq?} (default: the current seq) → {version} */
  createVersion(room, name, seq = undefined) {
    const body = { name };
    if (seq !== undefined) body.seq = seq;
    return this.request('POST', `/rooms/${seg(room)}/versions`, body);
  }

  /** GET /rooms/{room}/versions/{id} → {version: {..., state}} (the room's state as of the version's seq) */
  version(room, id) { return this.request('GET', `/rooms/${seg(room)}/versions/${seg(id)}`); }

  /** DELETE /rooms/{room}/versions/{id} → null (its creator, admins and owners) */
  deleteVersion(room, id) { return this.request('DELETE', `/rooms/${seg(room)}/versions/${seg(id)}`); }

  // ------------------------------------------------------------ cards

  /** GET /boards/{board}/cards[?column=] → {board, seq, epoch, columns, cards} in display order */
  cards(board, { column } = {}) { return this.request('GET', `/boards/${seg(board)}/cards${query({ column })}`); }

  /** GET /boards/{board}/cards/{card} → {card, seq, epoch} */
  card(board, card) { return this.request('GET', `/boards/${seg(board)}/cards/${seg(card)}`); }

  /** POST /boards/{board}/cards with {title, description?, column?, position?, id?, cid?} → {card, seq, epoch} */
  createCard(board, fields) { return this.request('POST', `/boards/${seg(board)}/cards`, fields); }

  /** PATCH /boards/{board}/cards/{card} with {title?, description?, labels?, column?, position?, base_version?, cid?} */
  updateCard(board, card, fields) { return this.request('PATCH', `/boards/${seg(board)}/cards/${seg(card)}`, fields); }

  /** DELETE /boards/{board}/cards/{card} → null */
  deleteCard(board, card) { return this.request('DELETE', `/boards/${seg(board)}/cards/${seg(card)}`); }

  /** POST /boards/{board}/cards/{card}/assign → {card, ...} */
  assignCard(board, card, user) { return this.request('POST', `/boards/${seg(board)}/cards/${seg(card)}/assign`, { user }); }

  /** POST /boards/{board}/cards/{card}/unassign → {card, ...} */
  unassignCard(board, card, user) { return this.request('POST', `/boards/${seg(board)}/cards/${seg(card)}/unassign`, { user }); }
}
