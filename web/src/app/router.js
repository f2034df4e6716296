// router.js — hash routes (#/w/3/c/chat.3.7). The query string (e.g. the
// ?ws= override, see config.js) stays untouched while navigating.

const ROUTES = [
  ['login', /^\/login$/],
  ['register', /^\/register$/],
  ['workspaces', /^\/?$/],
  ['workspaces', /^\/w$/],
  ['workspace', /^\/w\/(\d+)$/],
  ['members', /^\/w\/(\d+)\/members$/],
  ['chat', /^\/w\/(\d+)\/c\/([A-Za-z0-9_.:-]{1,128})$/],
  ['room', /^\/w\/(\d+)\/r\/([A-Za-z0-9_.:-]{1,128})$/],
];

export function parseRoute(hash = window.location.hash) {
  let path;
  try {
    path = decodeURIComponent(hash.replace(/^#/, '')) || '/';
  } catch {
    // A malformed escape (#/w/1/r/%): no route of ours.
    return { name: 'notfound', ws: null, room: null, path: hash.replace(/^#/, '') };
  }
  for (const [name, re] of ROUTES) {
    const m = re.exec(path);
    if (m) return { name, ws: m[1] ? Number(m[1]) : null, room: m[2] ?? null, path };
  }
  return { name: 'notfound', ws: null, room: null, path };
}

export function href(path) {
  return `#${path}`;
}

export function navigate(path, { replace = false } = {}) {
  const target = `#${path}`;
  if (window.location.hash === target) {
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    return;
  }
  if (replace) window.history.replaceState(null, '', target);
  else window.location.hash = target;
  if (replace) window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export const paths = {
  login: () => '/login',
  register: () => '/register',
  workspaces: () => '/w',
  workspace: (ws) => `/w/${ws}`,
  members: (ws) => `/w/${ws}/members`,
  chat: (ws, room) => `/w/${ws}/c/${room}`,
  room: (ws, room) => `/w/${ws}/r/${room}`,
};

/** The route of a room of any kind. */
export function roomPath(ws, room) {
  return room.kind === 'chat' ? paths.chat(ws, room.id) : paths.room(ws, room.id);
}
