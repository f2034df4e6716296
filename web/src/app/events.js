// events.js — a tiny event emitter, and a way to listen to the shared
// library's objects whichever style they use (on/off or EventTarget).

export class Emitter {
  #handlers = new Map();

  on(name, fn) {
    if (!this.#handlers.has(name)) this.#handlers.set(name, new Set());
    this.#handlers.get(name).add(fn);
    return () => this.off(name, fn);
  }

  off(name, fn) {
    this.#handlers.get(name)?.delete(fn);
  }

  emit(name, ...args) {
    for (const fn of [...(this.#handlers.get(name) ?? [])]) {
      try {
        fn(...args);
      } catch (err) {
        console.error(`handler of '${name}' failed`, err);
      }
    }
  }
}

/** Subscribes fn to target's event name; returns an unsubscribe function. */
export function listen(target, name, fn) {
  if (!target) return () => {};
  if (typeof target.on === 'function') {
    const r = target.on(name, fn);
    if (typeof r === 'function') return r;
    return () => (typeof target.off === 'function' ? target.off(name, fn) : target.removeListener?.(name, fn));
  }
  if (typeof target.addEventListener === 'function') {
    const wrapped = (e) => fn(e?.detail !== undefined ? e.detail : e);
    target.addEventListener(name, wrapped);
    return () => target.removeEventListener(name, wrapped);
  }
  return () => {};
}

/** Cleanups of one view: dispose() runs them (newest first) once. */
export class Scope {
  #fns = [];
  #disposed = false;

  add(fn) {
    if (this.#disposed) fn();
    else this.#fns.push(fn);
    return fn;
  }

  get disposed() { return this.#disposed; }

  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const fn of this.#fns.splice(0).reverse()) {
      try {
        fn();
      } catch (err) {
        console.error('cleanup failed', err);
      }
    }
  }
}
