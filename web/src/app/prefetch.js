// prefetch.js — a room's snapshot requested before its view exists.
//
// When the page opens on a board or whiteboard route, the room is known
// from the hash long before the view is built (the app's modules load, the
// session is restored and the workspace loaded first): early.js starts the
// snapshot request at once (and main.js does when it loads another
// workspace for such a route), and the view's first load takes that
// request instead of making its own. Each prefetched request is handed out
// once, and only within TTL_MS of its start; after that it is dropped (the
// view asks anew).
//
// Correctness never depends on it: a view subscribes to its room before it
// loads, and RoomSync reloads whenever the snapshot ends below the room's
// join point or below the first live event (roomsync.js). A snapshot
// fetched early is at worst an older one, which costs one reload.

const TTL_MS = 5000;

/** room -> {promise, timer} */
const prefetched = new Map();

/** Starts loading a room's snapshot for the view that will open it (once per TTL_MS). */
export function prefetchSnapshot(api, room) {
  if (!room || prefetched.has(room)) return;
  const promise = api.snapshot(room);
  // Failures are reported when the view takes the request; until then they are not unhandled.
  promise.catch(() => {});
  const timer = setTimeout(() => {
    if (prefetched.get(room)?.promise === promise) prefetched.delete(room);
  }, TTL_MS);
  prefetched.set(room, { promise, timer });
}

/** The room's prefetched snapshot request (handed out once), or null. */
export function takePrefetched(room) {
  const e = prefetched.get(room);
  if (!e) return null;
  prefetched.delete(room);
  clearTimeout(e.timer);
  return e.promise;
}

/** The snapshot for a view's first load: the prefetched request if there is one, else a new one. */
export function firstSnapshot(api, room) {
  return takePrefetched(room) ?? api.snapshot(room);
}

/** Forgets every prefetched request (the user signed out). */
export function dropPrefetched() {
  for (const e of prefetched.values()) clearTimeout(e.timer);
  prefetched.clear();
}
