// session.js — the signed-in user: the HTTP API client (tokens kept in
// localStorage by ChorusApi) and one WebSocket client for the whole app.

import { ChorusApi } from '../lib/api.js';
import { ChorusClient } from '../lib/client.js';
import { API_ORIGIN, wsUrls } from './config.js';
import { Emitter, listen } from './events.js';

export class Session extends Emitter {
  /** @param {{api?: ChorusApi}} [opts] the API client to use (default: a new one) */
  constructor({ api = null } = {}) {
    super();
    this.api = api ?? new ChorusApi({ baseUrl: API_ORIGIN, storage: window.localStorage });
    const onNetwork = () => this.emit('connection', this.connection);
    window.addEventListener('online', onNetwork);
    window.addEventListener('offline', onNetwork);
    // The session ended elsewhere (refresh refused, signed out in another tab).
    listen(this.api, 'auth', ({ user } = {}) => {
      if (!user && this.user) this.#endLocally();
    });
    this.user = null;
    this.client = null;
    this.connection = 'offline';
    /** Read markers set from this page: room -> {seq, epoch} (wins over an older server answer). */
    this.readMarks = new Map();
    /** The gateway (node id) of the current connection, for the status pill. */
    this.node = null;
    this.unlisten = [];
  }

  /**
   * What the status pill and banner show: the client's state, or 'offline'
   * while the browser reports no network (the client keeps retrying).
   */
  get status() {
    if (this.user && globalThis.navigator?.onLine === false) return 'offline';
    return this.connection;
  }

  get userId() {
    return this.user ? String(this.user.id) : null;
  }

  /** Signs in with stored tokens if they still work. */
  async restore() {
    if (!this.api.loggedIn) return false;
    let r;
    try {
      r = await this.api.me();
    } catch (err) {
      // Unreachable server: carry on as the stored user; the client
      // connects (and queued messages go out) once it is back.
      if (err?.status === 0 && this.api.user) {
        this.#signedIn(this.api.user);
        return true;
      }
      return false;
    }
    const user = r?.user ?? r;
    if (!user || user.id === undefined) return false;
    this.#signedIn(user);
    return true;
  }

  async login(username, password) {
    const r = await this.api.login(username, password);
    this.#signedIn(r.user ?? (await this.api.me()).user);
  }

  async register(username, password, displayName) {
    const r = await this.api.register(username, password, displayName);
    this.#signedIn(r.user ?? (await this.api.me()).user);
  }

  async logout() {
    this.#stopClient();
    this.user = null;
    try {
      await this.api.logout();
    } catch { /* the tokens are dropped locally either way */ }
    this.emit('signedout');
  }

  #endLocally() {
    this.#stopClient();
    this.user = null;
    this.emit('signedout');
  }

  #signedIn(user) {
    this.user = user;
    this.#startClient();
    this.emit('signedin', user);
  }

  #startClient() {
    this.#stopClient();
    const client = new ChorusClient({
      urls: wsUrls(),
      getToken: (opts) => this.api.getToken(opts),
    });
    this.client = client;
    this.unlisten.push(listen(client, 'state', (s) => this.#setConnection(typeof s === 'string' ? s : (s?.state ?? client.state))));
    this.unlisten.push(listen(client, 'welcome', (w) => {
      this.node = w?.node ?? null;
      this.emit('connection', this.connection);
    }));
    this.#setConnection(client.state ?? 'connecting');
    client.connect();
  }

  #stopClient() {
    for (const u of this.unlisten.splice(0)) u();
    if (this.client) {
      try {
        this.client.close();
      } catch { /* already closed */ }
    }
    this.client = null;
    this.#setConnection('offline');
  }

  #setConnection(state) {
    if (state === this.connection) return;
    this.connection = state;
    if (state !== 'connected') this.node = null;
    this.emit('connection', state);
  }
}
