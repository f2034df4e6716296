// typing.js — who is typing in a room. Typing arrives as ephemeral events
// ({kind: 'typing', payload: {typing: true|false}}); an entry expires
// TYPING_TTL ms after its last refresh, so a closed tab or a lost "stopped"
// message never leaves someone typing forever.

export const TYPING_TTL = 3000;
export const TYPING_REFRESH = 1500;

export class TypingTracker {
  constructor(onChange, { ttl = TYPING_TTL, now = () => Date.now() } = {}) {
    this.onChange = onChange;
    this.ttl = ttl;
    this.now = now;
    this.users = new Map(); // user -> expiresAt
    this.timer = null;
  }

  /** Applies a typing event from user. */
  note(user, typing) {
    const had = this.users.has(user);
    if (typing) this.users.set(user, this.now() + this.ttl);
    else this.users.delete(user);
    if (had !== this.users.has(user)) this.onChange();
    this.#schedule();
  }

  /** Someone's message arrived or they left: they stopped typing. */
  clear(user) {
    if (this.users.delete(user)) this.onChange();
  }

  list() {
    return [...this.users.keys()];
  }

  #schedule() {
    if (this.timer || !this.users.size) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = this.now();
      let changed = false;
      for (const [u, exp] of this.users) {
        if (exp <= now) {
          this.users.delete(u);
          changed = true;
        }
      }
      if (changed) this.onChange();
      this.#schedule();
    }, 250);
  }

  dispose() {
    clearTimeout(this.timer);
    this.timer = null;
    this.users.clear();
  }
}
