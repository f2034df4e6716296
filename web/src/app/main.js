// main.js — starts the app: signs in from stored tokens, follows the hash
// route, keeps one workspace shell alive while its routes change, and shows
// the connection banner.

import { h, icon, replace } from './dom.js';
import { describeError } from './errors.js';
import { Scope } from './events.js';
import { navigate, parseRoute, paths } from './router.js';
import { Session } from './session.js';
import { emptyState, spinner } from './ui.js';
import { loginView, registerView } from './views/auth.js';
import { chatView } from './views/chat.js';
import { membersView } from './views/members.js';
import { roomNotFoundView, roomsView } from './views/rooms.js';
import { workspaceShell } from './views/shell.js';
import { workspacesView } from './views/workspaces.js';
import { boardView } from './board/view.js';
import { warmPool } from './whiteboard/raster.js';
import { whiteboardView } from './whiteboard/view.js';
import { dropPrefetched, prefetchSnapshot } from './prefetch.js';
import { Workspace } from './workspace.js';
import { api, firstRoute } from './early.js';

const root = document.getElementById('app');
const banner = document.getElementById('conn-banner');
const session = new Session({ api });

let pageScope = null; // the whole page (or the workspace shell)
let paneScope = null; // the main pane inside a workspace shell
let current = null; // {wsId, ws, shell} while a workspace is open
let routeSeq = 0;
let pendingNext = null; // where to go after signing in

function disposePage() {
  paneScope?.dispose();
  paneScope = null;
  pageScope?.dispose();
  pageScope = null;
  current?.ws.close();
  current = null;
}

function showPage(el) {
  disposePage();
  pageScope = new Scope();
  replace(root, el(pageScope));
}

async function route() {
  const seq = ++routeSeq;
  const r = parseRoute();
  const signedIn = Boolean(session.user);

  if (r.name === 'login' || r.name === 'register') {
    if (signedIn) return navigate(paths.workspaces(), { replace: true });
    document.title = r.name === 'login' ? 'Sign in — Chorus' : 'Create account — Chorus';
    return showPage(() => (r.name === 'login' ? loginView(session, { next: pendingNext }) : registerView(session)));
  }
  if (!signedIn) {
    pendingNext = r.name === 'notfound' || r.name === 'workspaces' ? null : r.path;
    return navigate(paths.login(), { replace: true });
  }
  pendingNext = null;
  if (r.name === 'workspaces') {
    document.title = 'Workspaces — Chorus';
    return showPage((scope) => workspacesView(session, scope));
  }
  if (r.name === 'notfound') return navigate(paths.workspaces(), { replace: true });

  // A workspace route: reuse the open shell if it is the same workspace.
  if (!current || current.wsId !== r.ws) {
    // A board or whiteboard's snapshot loads while the workspace does.
    if (r.name === 'room') prefetchSnapshot(session.api, r.room);
    disposePage();
    replace(root, h('div', { class: 'boot' }, spinner('Opening workspace')));
    const ws = new Workspace(session, r.ws);
    try {
      await ws.load();
    } catch (err) {
      ws.close();
      if (seq !== routeSeq) return;
      return showPage(() => h('div', { class: 'boot' }, emptyState({
        iconName: 'alert',
        title: 'This workspace is not available',
        text: err?.status === 404 || err?.status === 403 ? 'You are not a member of it, or it was deleted.' : describeError(err),
        action: h('a', { class: 'btn btn-secondary', href: `#${paths.workspaces()}` }, icon('back', 16), 'All workspaces'),
      })));
    }
    if (seq !== routeSeq) {
      ws.close();
      return;
    }
    pageScope = new Scope();
    const shell = workspaceShell(session, ws, pageScope);
    current = { wsId: r.ws, ws, shell };
    replace(root, shell.el);
  }
  const { ws, shell } = current;
  paneScope?.dispose();
  paneScope = new Scope();
  let pane;
  let key = null;
  if (r.name === 'workspace') {
    document.title = `${ws.info.name} — Chorus`;
    pane = roomsView(session, ws, paneScope);
  } else if (r.name === 'members') {
    key = 'members';
    pane = membersView(session, ws, paneScope);
  } else if (r.name === 'chat') {
    key = r.room;
    pane = chatView(session, ws, r.room, paneScope);
  } else {
    // A board or whiteboard: each kind opens in its own app.
    key = r.room;
    const room = ws.room(r.room);
    if (room) document.title = `${room.name} — ${ws.info.name} — Chorus`;
    if (room?.kind === 'board') pane = boardView(session, ws, r.room, paneScope);
    else if (room?.kind === 'whiteboard') pane = whiteboardView(session, ws, r.room, paneScope);
    else if (room?.kind === 'chat') return navigate(paths.chat(ws.id, room.id), { replace: true });
    else pane = roomNotFoundView(ws);
  }
  shell.setCurrent(key);
  replace(shell.main, pane);
  if (r.name !== 'chat') shell.main.focus({ preventScroll: true });
}

// ------------------------------------------------------------ connection banner

const BANNER = {
  connecting: ['Connecting to the live service\u2026', 'info'],
  reconnecting: ['Connection lost. Reconnecting\u2026 Messages you send now are kept and sent when it is back.', 'warn'],
  offline: ['You are offline. Messages you send are kept and sent when the connection is back.', 'error'],
};
let bannerTimer = null;

function updateBanner() {
  const state = session.status;
  clearTimeout(bannerTimer);
  document.documentElement.dataset.connection = state;
  const show = () => {
    const b = BANNER[state];
    if (!b || !session.user) {
      banner.hidden = true;
      banner.dataset.state = state;
      return;
    }
    replace(banner, icon(state === 'connecting' ? 'wifi' : 'alert', 16), h('span', null, b[0]));
    banner.className = `conn-banner conn-${b[1]}`;
    banner.dataset.state = state;
    banner.hidden = false;
  };
  // A first connect is usually instant: avoid a flash of "connecting".
  if (state === 'connecting') bannerTimer = setTimeout(show, 1200);
  else show();
}

session.on('connection', updateBanner);
session.on('signedout', () => {
  dropPrefetched();
  updateBanner();
  disposePage();
  navigate(paths.login(), { replace: true });
});

// ------------------------------------------------------------ start

// The skip link focuses the main pane without touching the hash route.
document.querySelector('.skip-link')?.addEventListener('click', (e) => {
  e.preventDefault();
  const target = document.getElementById('main') ?? root.querySelector('main');
  target?.setAttribute('tabindex', '-1');
  target?.focus();
});

window.addEventListener('hashchange', () => {
  route().catch((err) => console.error('route failed', err));
});

(async () => {
  replace(root, h('div', { class: 'boot' }, spinner('Starting Chorus')));
  // Opening a board or whiteboard with stored tokens: its snapshot is
  // loading already (early.js), while the session is restored and the
  // workspace loads; if it is a whiteboard, its drawing workers are ready
  // by the time the snapshot is in.
  if (firstRoute.name === 'room' && firstRoute.room.startsWith('whiteboard.') && session.api.loggedIn) warmPool();
  try {
    await session.restore();
  } catch (err) {
    console.warn('could not restore the session', err);
  }
  updateBanner();
  await route();
})();
