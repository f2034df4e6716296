// view.js — one whiteboard room: the toolbar, the board canvas, live
// strokes and cursors of the others, presence, undo/redo, clear, export,
// share link and named versions.
//
// Opening follows the chat view's pattern, through RoomSync (roomsync.js):
// subscribe to the room first (events are buffered), load the snapshot
// (prefetched when the page opened on this board: prefetch.js) while the
// room is joined, then fold the buffered events above the snapshot's seq;
// a join point above the snapshot reloads it. After that each durable
// event is folded in seq order; a gap or another epoch reloads the
// snapshot, and so does the room handle's onReset. The folded state is
// always the server's (model.js); this page's unacknowledged publishes are
// drawn on top of it.

import { objectsInOrder } from '../../lib/reducers/index.js';
import { randomId } from '../../lib/ids.js';
import { h, icon, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { avatar, formatFull, hue } from '../format.js';
import { href, paths } from '../router.js';
import { emptyState, spinner, toast } from '../ui.js';
import { listen } from '../events.js';
import { firstSnapshot } from '../prefetch.js';
import { RoomSync } from '../roomsync.js';
import { drawObject, measureText } from './draw.js';
import { downloadBlob, exportName, toPngBlob, toSvg } from './export.js';
import { fitView, readdPayload, roundCoord, unionBounds, zoomAt } from './geometry.js';
import { Cursors, LiveItems } from './live.js';
import { WhiteboardModel, describeEntry } from './model.js';
import { BoardRenderer } from './render.js';
import { TOOLS, ToolController, objectsInBox, topHit } from './tools.js';

const mark = (name) => { try { performance.mark(name); } catch { /* old browsers */ } };

const COLORS = [
  ['#1b1c22', 'Black'], ['#e03131', 'Red'], ['#f08c00', 'Orange'], ['#2f9e44', 'Green'],
  ['#1971c2', 'Blue'], ['#9c36b5', 'Purple'], ['#868e96', 'Grey'],
];
const SIZE_GROUPS = { pen: 'pen', eraser: 'eraser', rect: 'shape', ellipse: 'shape', line: 'shape', arrow: 'shape', text: 'text', select: 'pen', hand: 'pen' };
const SIZE_LIMITS = { pen: [1, 64], eraser: [4, 160], shape: [1, 32], text: [10, 120] };
const DEFAULT_PREFS = { tool: 'pen', color: '#1b1c22', sizes: { pen: 4, eraser: 24, shape: 3, text: 20 } };
const PREFS_KEY = 'chorus.wb.prefs';
const PARALLEL_KEY = 'chorus.wb.parallel';
const CURSOR_INTERVAL_MS = 50; // ~20 Hz
const RESTORE_WINDOW = 16; // publishes in flight while restoring a version
const newCid = () => `w${randomId(20)}`;

export function whiteboardView(session, ws, roomId, scope) {
  const room = ws.room(roomId);
  if (!room || room.kind !== 'whiteboard') {
    return h('div', { class: 'pane pane-center wb-app', dataset: { room: roomId } }, emptyState({
      iconName: 'alert', title: 'Whiteboard not found',
      text: 'It may have been archived, or the link is wrong.',
      action: h('a', { class: 'btn btn-secondary', href: href(paths.workspace(ws.id)) }, 'Back to rooms'),
    }));
  }
  return new WhiteboardView(session, ws, room, scope).el;
}

/** Full renders in workers: 'auto' (big layers), or 'always'/'off' set in localStorage (tests, diagnostics). */
function parallelPref() {
  try {
    const v = localStorage.getItem(PARALLEL_KEY);
    if (v === 'always' || v === 'off') return v;
  } catch { /* private mode */ }
  return 'auto';
}

function loadPrefs() {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS_KEY) ?? 'null');
    if (p && typeof p === 'object') {
      return {
        tool: TOOLS.some((t) => t.id === p.tool) ? p.tool : DEFAULT_PREFS.tool,
        color: /^#[0-9a-fA-F]{6}$/.test(p.color) ? p.color : DEFAULT_PREFS.color,
        sizes: { ...DEFAULT_PREFS.sizes, ...(p.sizes && typeof p.sizes === 'object' ? p.sizes : {}) },
      };
    }
  } catch { /* defaults */ }
  return structuredClone(DEFAULT_PREFS);
}

class WhiteboardView {
  constructor(session, ws, room, scope) {
    this.session = session;
    this.api = session.api;
    this.ws = ws;
    this.room = room;
    this.scope = scope;
    this.me = String(session.userId);
    this.model = new WhiteboardModel({ me: this.me });
    this.liveItems = new LiveItems();
    this.cursors = new Cursors();
    this.sync = new RoomSync({
      snapshot: () => this.api.snapshot(this.room.id),
      seq: () => this.model.seq,
      epoch: () => this.model.epoch,
      loadSnapshot: (snap, cause) => {
        this.model.loadSnapshot(snap);
        if (cause === 'load') this.restoreView();
      },
      apply: (ev) => this.applyEvent(ev),
      onLoadError: (err) => this.showLoadError(err),
      onLoaded: (cause) => this.onLoaded(cause),
    }, { scope });
    this.prefs = loadPrefs();
    this.selection = new Set();
    this.drag = null; // {dx, dy} while moving the selection
    this.versionView = null; // {version, order}
    this.rendered = false;
    this.lastCursorSent = 0;
    this.cursorEls = new Map();
    this.waiters = [];
    this.restoring = false;
    this.disarmRestore = new Map(); // armed Restore button -> puts its label back

    this.build();
    this.renderer = new BoardRenderer(this.canvas, {
      layerObjects: () => this.layerObjects(),
      overlay: (ctx) => this.drawOverlay(ctx),
      onFrame: (info) => this.onFrame(info),
    }, { parallel: parallelPref() });
    this.tools = new ToolController(this, this.canvas);
    scope.add(() => {
      this.tools.destroy();
      this.renderer.destroy();
      this.cursorGone();
      for (const w of this.waiters.splice(0)) w();
    });
    this.attach();
    this.setTool(this.prefs.tool);
    this.load();
  }

  // ------------------------------------------------------------ layout

  build() {
    const r = this.room;
    this.presenceEl = h('div', { class: 'chat-presence wb-presence', attrs: { 'data-testid': 'room-presence', 'aria-live': 'polite' } });
    this.copyBtn = this.#iconBtn('wb-link', 'Copy link', () => this.copyLink(), { text: 'Copy link' });
    this.versionsBtn = this.#iconBtn('clock', 'Versions', () => this.toggleVersions(), { text: 'Versions', attrs: { 'aria-expanded': 'false', 'aria-controls': `wb-versions-${r.id}` } });
    this.pngBtn = this.#iconBtn('wb-download', 'Download PNG', () => this.downloadPng(), { text: 'PNG' });
    this.svgBtn = this.#iconBtn('wb-download', 'Download SVG', () => this.downloadSvg(), { text: 'SVG' });

    // Tools.
    this.toolBtns = new Map();
    const toolGroup = h('div', { class: 'wb-group', attrs: { role: 'group', 'aria-label': 'Tools' } },
      TOOLS.map((t) => {
        const b = h('button', {
          type: 'button', class: 'wb-tool', dataset: { tool: t.id },
          attrs: { 'aria-label': t.label, 'aria-pressed': 'false', title: `${t.label} (${t.key})`, 'aria-keyshortcuts': t.key },
          on: { click: () => this.setTool(t.id) },
        }, icon(t.icon, 18));
        this.toolBtns.set(t.id, b);
        return b;
      }));

    // Colour and size.
    this.swatches = COLORS.map(([c, name]) => h('button', {
      type: 'button', class: 'wb-swatch', dataset: { color: c }, style: { '--swatch': c },
      attrs: { 'aria-label': `Colour ${name}`, 'aria-pressed': 'false', title: name },
      on: { click: () => this.setColor(c) },
    }));
    this.colorInput = h('input', {
      type: 'color', class: 'wb-color', value: this.prefs.color,
      attrs: { 'aria-label': 'Custom colour', title: 'Custom colour' },
      on: { input: (e) => this.setColor(e.target.value) },
    });
    this.sizeInput = h('input', {
      type: 'range', class: 'wb-size', min: 1, max: 64, step: 1,
      attrs: { 'aria-label': 'Size', title: 'Size ([ and ])' },
      on: { input: (e) => this.setSize(Number(e.target.value)) },
    });
    this.sizeOut = h('output', { class: 'wb-size-out', attrs: { 'aria-hidden': 'true' } });
    const styleGroup = h('div', { class: 'wb-group wb-style', attrs: { role: 'group', 'aria-label': 'Colour and size' } },
      this.swatches, this.colorInput, h('label', { class: 'wb-size-wrap' }, this.sizeInput, this.sizeOut));

    this.undoBtn = this.#iconBtn('wb-undo', 'Undo', () => this.undo(), { attrs: { 'aria-keyshortcuts': 'Control+Z' } });
    this.redoBtn = this.#iconBtn('wb-redo', 'Redo', () => this.redo(), { attrs: { 'aria-keyshortcuts': 'Control+Shift+Z Control+Y' } });
    this.deleteBtn = this.#iconBtn('trash', 'Delete selection', () => this.deleteSelection(), { attrs: { 'aria-keyshortcuts': 'Delete' } });
    this.clearBtn = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm wb-clear', attrs: { 'aria-label': 'Clear board' },
      on: { click: () => this.clickClear() },
    }, icon('x', 16), h('span', null, 'Clear'));
    const editGroup = h('div', { class: 'wb-group', attrs: { role: 'group', 'aria-label': 'Edit' } },
      this.undoBtn, this.redoBtn, this.deleteBtn, this.clearBtn);

    this.toolbar = h('div', { class: 'wb-toolbar', attrs: { role: 'toolbar', 'aria-label': 'Whiteboard tools' } },
      toolGroup, h('span', { class: 'wb-sep', attrs: { 'aria-hidden': 'true' } }), styleGroup,
      h('span', { class: 'wb-sep', attrs: { 'aria-hidden': 'true' } }), editGroup);

    // Zoom.
    this.zoomOut = this.#iconBtn('wb-zoom-out', 'Zoom out', () => this.zoomBy(1 / 1.25), { attrs: { 'aria-keyshortcuts': '-' } });
    this.zoomIn = this.#iconBtn('wb-zoom-in', 'Zoom in', () => this.zoomBy(1.25), { attrs: { 'aria-keyshortcuts': '+' } });
    this.zoomLabel = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm wb-zoom-label', attrs: { 'aria-label': 'Reset zoom to 100%', title: 'Reset zoom (0)' },
      on: { click: () => this.zoomReset() },
    }, '100%');
    this.fitBtn = this.#iconBtn('wb-fit', 'Zoom to fit', () => this.zoomFit(), { attrs: { 'aria-keyshortcuts': 'Shift+1' } });
    const zoomBar = h('div', { class: 'wb-zoom', attrs: { role: 'group', 'aria-label': 'Zoom' } }, this.zoomOut, this.zoomLabel, this.zoomIn, this.fitBtn);

    this.canvas = h('canvas', {
      class: 'wb-canvas', tabIndex: 0,
      attrs: { 'data-testid': 'wb-canvas', role: 'img', 'aria-label': `Whiteboard ${r.name}` },
    });
    this.cursorLayer = h('div', { class: 'wb-cursors', attrs: { 'aria-hidden': 'true' } });
    this.banner = h('div', { class: 'wb-banner', hidden: true, attrs: { role: 'status', 'data-testid': 'wb-version-banner' } });
    this.status = h('div', { class: 'wb-status', hidden: true, attrs: { role: 'status' } });
    this.loading = h('div', { class: 'wb-loading' }, spinner('Loading whiteboard'));
    this.stage = h('div', { class: 'wb-stage' }, this.canvas, this.cursorLayer, this.loading, this.banner, zoomBar);

    this.versionList = h('ul', { class: 'wb-version-list', attrs: { 'aria-label': 'Saved versions' } });
    this.versionName = h('input', {
      type: 'text', class: 'input wb-version-name', maxLength: 100, placeholder: 'Version name',
      attrs: { 'aria-label': 'Version name', required: true },
    });
    this.versionForm = h('form', { class: 'wb-version-form', on: { submit: (e) => { e.preventDefault(); this.saveVersion(); } } },
      this.versionName, h('button', { type: 'submit', class: 'btn btn-primary btn-sm' }, icon('wb-save', 16), 'Save version'));
    this.versionsPanel = h('aside', {
      class: 'wb-versions', id: `wb-versions-${r.id}`, hidden: true, attrs: { 'aria-label': 'Versions' },
    },
    h('div', { class: 'wb-versions-head' }, h('h2', null, 'Versions'),
      this.#iconBtn('x', 'Close versions', () => this.toggleVersions(false))),
    h('p', { class: 'muted wb-versions-hint' }, 'Save the board as it is now, look at an earlier version, or restore one for everyone.'),
    this.versionForm, this.versionList);

    this.el = h('section', {
      class: 'pane wb-app', dataset: { room: r.id },
      attrs: { 'aria-label': `Whiteboard ${r.name}` },
    },
    h('header', { class: 'chat-head wb-head' },
      h('div', { class: 'chat-title' }, icon('pen', 18), h('h1', null, r.name)),
      h('div', { class: 'wb-head-right' }, this.presenceEl,
        h('div', { class: 'wb-actions' }, this.copyBtn, this.versionsBtn, this.pngBtn, this.svgBtn))),
    this.toolbar,
    this.status,
    h('div', { class: 'wb-body' }, this.stage, this.versionsPanel));
  }

  #iconBtn(name, label, onClick, { text = null, attrs = {} } = {}) {
    return h('button', {
      type: 'button', class: ['btn', 'btn-ghost', 'btn-sm', !text && 'btn-icon'],
      attrs: { 'aria-label': label, title: label, ...attrs },
      on: { click: onClick },
    }, icon(name, 16), text ? h('span', { class: 'wb-btn-text' }, text) : null);
  }

  attach() {
    const { scope } = this;
    const sub = this.ws.subscribe(this.room.id, {
      onEvent: (ev) => this.sync.onEvent(ev),
      onEphemeral: (ev) => this.onEphemeral(ev),
      onPresence: (p) => this.onPresence(p),
      onReset: (snap) => this.sync.onReset(snap),
    });
    this.handle = sub.handle;
    scope.add(sub.unsubscribe);
    scope.add(this.ws.on('presence', (room) => { if (room === this.room.id) this.renderPresence(); }));
    scope.add(this.ws.on('members', () => this.renderPresence()));
    scope.add(this.ws.on('joinerror', (room, err) => {
      if (room !== this.room.id) return;
      this.showStatus(err?.code === 'forbidden' ? 'You no longer have access to this whiteboard.' : `This whiteboard is not available: ${err?.message ?? 'access was refused'}.`, 'error');
      this.readOnlyReason = 'no access';
      this.updateControls();
    }));
    if (this.handle) scope.add(listen(this.handle, 'pending', () => this.onPending()));
    scope.add(this.session.on('connection', (s) => this.showStatus(s === 'connected' ? null : 'Offline: what you draw is kept and sent when the connection is back.', 'info')));

    // Size of the stage.
    const ro = new ResizeObserver(() => this.fitCanvas());
    ro.observe(this.stage);
    scope.add(() => ro.disconnect());
    const mq = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    const onDpr = () => this.fitCanvas();
    mq.addEventListener?.('change', onDpr);
    scope.add(() => mq.removeEventListener?.('change', onDpr));

    // Keyboard.
    const onKey = (e) => this.onKey(e);
    const onKeyUp = (e) => {
      if (e.key === ' ' || e.code === 'Space') {
        this.tools.spaceDown = false;
        this.stage.classList.remove('is-space');
      }
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('keyup', onKeyUp);
    scope.add(() => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('keyup', onKeyUp);
    });

    // Stale live strokes and idle cursors.
    const sweep = setInterval(() => {
      if (this.liveItems.sweep() | this.cursors.sweep()) this.renderer.schedule();
    }, 1000);
    scope.add(() => clearInterval(sweep));

    // Read-only hook for tests and diagnostics.
    const hook = {
      room: this.room.id,
      get ready() { return hookTarget.rendered; },
      digest: () => hookTarget.model.digest(),
      stats: () => ({ ...hookTarget.renderer.stats, live: hookTarget.liveItems.size, cursors: hookTarget.cursors.map.size }),
      view: () => ({ ...hookTarget.renderer.view }),
    };
    const hookTarget = this;
    window.__chorusWhiteboard = hook;
    scope.add(() => { if (window.__chorusWhiteboard === hook) delete window.__chorusWhiteboard; });
  }

  fitCanvas() {
    const rect = this.stage.getBoundingClientRect();
    if (rect.width < 1 || rect.height < 1) return;
    this.renderer.resize(rect.width, rect.height, window.devicePixelRatio || 1);
  }

  // ------------------------------------------------------------ loading

  load() {
    mark('wb-open');
    // The snapshot (prefetched when the page opened on this board) loads
    // while the room is being joined; live events are buffered meanwhile.
    // If the join point ends up above the snapshot, the events in between
    // were never delivered live: the snapshot is reloaded then
    // (RoomSync.checkJoin, from onLoaded).
    if (this.handle) Promise.resolve(this.handle.ready).then(() => mark('wb-joined'), () => {});
    return this.sync.load(async () => {
      const snap = await firstSnapshot(this.api, this.room.id);
      mark('wb-snapshot');
      return snap;
    });
  }

  showLoadError(err) {
    replace(this.loading, emptyState({
      iconName: 'alert', title: 'Could not load this whiteboard', text: describeError(err),
      action: h('button', { type: 'button', class: 'btn btn-secondary', on: { click: () => { replace(this.loading, spinner('Loading whiteboard')); this.load(); } } }, icon('retry', 16), 'Try again'),
    }));
  }

  /** After a snapshot was loaded and the buffered events folded. */
  onLoaded(cause) {
    if (cause === 'reset') this.renderer.cache.prune((id) => Object.prototype.hasOwnProperty.call(this.model.state.objects, id));
    if (cause !== 'load') {
      this.afterChange({ type: 'reset' });
      return;
    }
    this.onPending();
    mark('wb-model');
    this.sync.checkJoin(this.handle);
    this.fitCanvas();
    this.renderer.invalidate();
    this.updateControls();
    mark('wb-loaded');
  }

  applyEvent(ev) {
    const change = this.model.applyEvent(ev);
    if (ev.kind === 'stroke.add' || ev.kind === 'shape.add') {
      if (typeof ev.payload?.id === 'string') this.liveItems.committed(ev.payload.id);
    }
    if (this.model.epoch === null && ev.epoch !== undefined) this.model.epoch = ev.epoch;
    this.afterChange(change);
  }

  afterChange(change) {
    if (!change) return;
    if (this.versionView) {
      this.renderer.schedule();
    } else if (change.type === 'add' && !this.model.nonAddSig) {
      this.renderer.append(change.object);
    } else if (change.type !== 'seq') {
      this.renderer.invalidate();
    }
    if (change.type !== 'add' && change.type !== 'seq') this.pruneSelection();
    this.updateControls();
  }

  onPending() {
    if (!this.handle) return;
    this.afterOverlay(this.model.setPending(this.handle.pending));
  }

  /** The overlay of one's own publishes changed ({changed, layerChanged} from the model). */
  afterOverlay(info) {
    if (!info?.changed || this.scope.disposed || this.versionView) return;
    if (info.layerChanged) this.renderer.invalidate();
    else this.renderer.schedule();
    this.updateControls();
  }

  // ------------------------------------------------------------ model → screen

  layerObjects() {
    if (this.versionView) return this.versionView.order;
    return this.model.layerOrder();
  }

  drawOverlay(ctx) {
    const r = this.renderer;
    if (!this.versionView) {
      // One's own publishes not acknowledged yet.
      const pend = this.model.pendingObjects();
      if (pend.length) r.drawObjects(ctx, pend);
      // The selection being dragged.
      if (this.drag && r.exclude) {
        const moving = [...r.exclude].map((id) => this.model.object(id)).filter(Boolean);
        r.drawObjects(ctx, moving, { offsetX: this.drag.dx, offsetY: this.drag.dy });
      }
      // Others' strokes and shapes in progress.
      for (const it of this.liveItems.items.values()) {
        if (it.type === 'stroke') r.drawLive(ctx, it);
        else r.drawShapePreview(ctx, it);
      }
      this.tools.drawOverlay(ctx);
      if (this.selection.size) {
        const boxes = [...this.selection].map((id) => this.model.object(id)).filter(Boolean).map((o) => r.cache.bounds(o));
        r.drawSelection(ctx, boxes, this.drag ? { offsetX: this.drag.dx, offsetY: this.drag.dy } : undefined);
      }
    }
  }

  onFrame({ full }) {
    this.positionCursors();
    if (full && this.model.loaded && !this.rendered) {
      this.rendered = true;
      // The spinner stays until the board is drawn (in the workers, a
      // big board takes a few hundred ms after loading).
      this.loading.hidden = true;
      mark('wb-rendered');
      this.el.dataset.rendered = '1';
    }
    if (this.model.loaded && this.el.dataset.seq !== String(this.model.seq)) this.el.dataset.seq = String(this.model.seq);
    const zoom = `${Math.round(this.renderer.view.scale * 100)}%`;
    if (this.zoomLabel.textContent !== zoom) this.zoomLabel.textContent = zoom;
  }

  /** Board (0, 0) at the top left, or the view this tab had on this board. */
  restoreView() {
    let v = null;
    try {
      v = JSON.parse(sessionStorage.getItem(`chorus.wb.view.${this.room.id}`) ?? 'null');
    } catch { /* none */ }
    if (v && [v.scale, v.tx, v.ty].every(Number.isFinite) && v.scale > 0) this.renderer.setView(v);
  }

  setView(view, opts) {
    this.renderer.setView(view, opts);
    clearTimeout(this.viewSaveTimer);
    this.viewSaveTimer = setTimeout(() => {
      try { sessionStorage.setItem(`chorus.wb.view.${this.room.id}`, JSON.stringify(this.renderer.view)); } catch { /* full */ }
    }, 300);
    this.positionText();
  }

  setPanning(on) {
    this.stage.classList.toggle('is-panning', on);
  }

  zoomBy(f) {
    const r = this.renderer;
    this.setView(zoomAt(r.view, f, r.cssW / 2, r.cssH / 2));
  }

  zoomReset() {
    const r = this.renderer;
    this.setView(zoomAt(r.view, 1 / r.view.scale, r.cssW / 2, r.cssH / 2));
  }

  zoomFit() {
    const r = this.renderer;
    const list = this.layerObjects();
    const b = unionBounds(list.map((o) => r.cache.bounds(o)));
    if (!b) {
      this.setView({ scale: 1, tx: 0, ty: 0 });
      return;
    }
    this.setView(fitView(b, r.cssW, r.cssH, { maxScale: 2 }));
  }

  // ------------------------------------------------------------ tools and style

  get readOnly() { return Boolean(this.versionView || this.readOnlyReason); }

  setTool(id) {
    if (!TOOLS.some((t) => t.id === id)) return;
    if (this.tool !== id) this.tools?.cancel();
    this.commitText();
    this.tool = id;
    this.prefs.tool = id;
    this.savePrefs();
    for (const [t, b] of this.toolBtns) {
      b.setAttribute('aria-pressed', t === id ? 'true' : 'false');
      b.classList.toggle('is-active', t === id);
    }
    if (id !== 'select') this.setSelection([]);
    this.stage.dataset.tool = id;
    this.syncStyle();
  }

  setColor(c) {
    this.prefs.color = c;
    this.savePrefs();
    this.syncStyle();
    if (this.textEditor) this.textEditor.el.style.color = c;
  }

  strokeSize(tool = this.tool) {
    const g = SIZE_GROUPS[tool] ?? 'pen';
    const [lo, hi] = SIZE_LIMITS[g];
    return Math.max(lo, Math.min(hi, Number(this.prefs.sizes[g]) || DEFAULT_PREFS.sizes[g]));
  }

  setSize(n) {
    const g = SIZE_GROUPS[this.tool] ?? 'pen';
    const [lo, hi] = SIZE_LIMITS[g];
    this.prefs.sizes[g] = Math.max(lo, Math.min(hi, Math.round(n)));
    this.savePrefs();
    this.syncStyle();
  }

  get color() { return this.prefs.color; }

  syncStyle() {
    const g = SIZE_GROUPS[this.tool] ?? 'pen';
    const [lo, hi] = SIZE_LIMITS[g];
    this.sizeInput.min = String(lo);
    this.sizeInput.max = String(hi);
    this.sizeInput.value = String(this.strokeSize());
    this.sizeOut.textContent = String(this.strokeSize());
    this.colorInput.value = /^#[0-9a-fA-F]{6}$/.test(this.prefs.color) ? this.prefs.color : '#000000';
    for (const s of this.swatches) s.setAttribute('aria-pressed', s.dataset.color.toLowerCase() === this.prefs.color.toLowerCase() ? 'true' : 'false');
    this.stage.style.setProperty('--wb-color', this.prefs.color);
  }

  savePrefs() {
    try { localStorage.setItem(PREFS_KEY, JSON.stringify(this.prefs)); } catch { /* private mode */ }
  }

  // ------------------------------------------------------------ publishing

  /**
   * Publishes one durable event; resolves its ack, or null when it failed
   * (shown in a toast, unless quiet: then the caller reports it).
   */
  publish(kind, payload, { quiet = false } = {}) {
    if (!this.handle) {
      if (!quiet) toast('Not connected to this whiteboard yet.', 'error');
      return Promise.resolve(null);
    }
    const cid = newCid();
    let p;
    try {
      p = this.handle.publish(kind, payload, { cid });
    } catch (err) {
      p = Promise.reject(err);
    }
    return Promise.resolve(p).then((ack) => {
      this.afterOverlay(this.model.ack(cid, ack));
      return ack;
    }, (err) => {
      this.afterOverlay(this.model.refused(cid));
      if (!quiet && !this.scope.disposed) toast(`Could not save your change: ${err?.message ?? err}`, 'error');
      return null;
    });
  }

  /** A new object: shown at once, until its event takes over. */
  publishAdd(kind, payload) {
    if (this.readOnly) return null;
    const p = this.publish(kind, payload);
    this.renderer.schedule();
    return p;
  }

  /** An ephemeral message; false if it was not sent (offline, over the rate). */
  live(kind, payload) {
    try {
      return Boolean(this.handle?.publishEphemeral(kind, payload));
    } catch {
      return false;
    }
  }

  pointerAt(bx, by) {
    const now = performance.now();
    if (now - this.lastCursorSent < CURSOR_INTERVAL_MS) {
      this.cursorDue = [bx, by];
      clearTimeout(this.cursorTimer);
      this.cursorTimer = setTimeout(() => {
        if (this.cursorDue) this.pointerAt(...this.cursorDue);
      }, CURSOR_INTERVAL_MS);
      return;
    }
    this.cursorDue = null;
    if (this.live('cursor', { x: roundCoord(bx), y: roundCoord(by) })) {
      this.lastCursorSent = now;
      this.cursorShown = true;
    }
  }

  cursorGone() {
    clearTimeout(this.cursorTimer);
    this.cursorDue = null;
    if (this.cursorShown) {
      this.cursorShown = false;
      this.live('cursor', { gone: true });
    }
  }

  /** Resolves once none of this page's actions wait for their events (or after ms). */
  whenActionsSettled(ms = 5000) {
    if (!this.model.hasPendingActions()) return Promise.resolve();
    return new Promise((resolve) => {
      const t0 = Date.now();
      const check = () => {
        if (this.scope.disposed || !this.model.hasPendingActions() || Date.now() - t0 > ms) {
          clearInterval(timer);
          resolve();
        }
      };
      const timer = setInterval(check, 20);
      this.waiters.push(() => { clearInterval(timer); resolve(); });
    });
  }

  async undo() {
    if (this.readOnly) return;
    this.commitText();
    // Undo is pinned to the seq of the entry it reverts: wait until one's
    // own last action has its seq.
    await this.whenActionsSettled();
    const e = this.model.undoEntry();
    if (!e || this.scope.disposed) return;
    this.setSelection([]);
    this.publish('undo', { action: e.seq });
    this.updateControls();
  }

  async redo() {
    if (this.readOnly) return;
    await this.whenActionsSettled();
    const e = this.model.redoEntry();
    if (!e || this.scope.disposed) return;
    this.publish('redo', { action: e.seq });
    this.updateControls();
  }

  clickClear() {
    if (this.readOnly) return;
    if (!this.clearArmed) {
      if (!this.model.displayOrder().length) {
        toast('The board is already empty.');
        return;
      }
      this.clearArmed = true;
      this.clearBtn.classList.add('is-armed');
      this.clearBtn.setAttribute('aria-label', 'Confirm clear board');
      replace(this.clearBtn, icon('alert', 16), h('span', null, 'Clear for everyone?'));
      this.clearTimer = setTimeout(() => this.disarmClear(), 4000);
      return;
    }
    this.disarmClear();
    this.setSelection([]);
    this.publish('clear', {});
    toast('Board cleared. Undo brings it back.');
  }

  disarmClear() {
    clearTimeout(this.clearTimer);
    this.clearArmed = false;
    this.clearBtn.classList.remove('is-armed');
    this.clearBtn.setAttribute('aria-label', 'Clear board');
    replace(this.clearBtn, icon('x', 16), h('span', null, 'Clear'));
  }

  updateControls() {
    const ro = this.readOnly;
    const m = this.model;
    const canUndo = !ro && m.loaded && m.canUndo();
    const canRedo = !ro && m.loaded && m.canRedo();
    this.undoBtn.disabled = !canUndo;
    this.redoBtn.disabled = !canRedo;
    const settled = m.loaded && !m.hasPendingActions();
    const u = settled ? m.undoEntry() : null;
    const r = settled ? m.redoEntry() : null;
    this.undoBtn.title = u ? `Undo: ${describeEntry(u, m.display)} (Ctrl+Z)` : 'Undo (Ctrl+Z)';
    this.redoBtn.title = r ? `Redo: ${describeEntry(r, m.display)} (Ctrl+Shift+Z)` : 'Redo (Ctrl+Shift+Z)';
    this.deleteBtn.disabled = ro || this.selection.size === 0;
    this.clearBtn.disabled = ro;
    for (const b of this.toolBtns.values()) b.disabled = Boolean(ro && b.dataset.tool !== 'hand' && b.dataset.tool !== 'select');
    this.el.classList.toggle('is-readonly', ro);
  }

  // ------------------------------------------------------------ selection

  hitTest(bx, by) {
    const list = this.model.displayOrder().filter((o) => !(o.type === 'stroke' && o.tool === 'eraser'));
    return topHit(list, bx, by, 6 / this.renderer.view.scale, (o) => this.renderer.cache.bounds(o));
  }

  objectsIn(box) {
    const list = this.model.displayOrder().filter((o) => !(o.type === 'stroke' && o.tool === 'eraser'));
    return objectsInBox(list, box, (o) => this.renderer.cache.bounds(o));
  }

  setSelection(ids) {
    this.selection = new Set(ids);
    this.updateControls();
    this.renderer?.schedule();
  }

  toggleSelected(id) {
    const s = new Set(this.selection);
    if (s.has(id)) s.delete(id); else s.add(id);
    this.setSelection(s);
  }

  pruneSelection() {
    if (!this.selection.size) return;
    const keep = [...this.selection].filter((id) => this.model.object(id));
    if (keep.length !== this.selection.size) this.setSelection(keep);
  }

  beginDrag() {
    this.drag = { dx: 0, dy: 0 };
    this.renderer.exclude = new Set(this.selection);
    this.renderer.invalidate();
  }

  dragTo(dx, dy) {
    if (!this.drag) return;
    this.drag = { dx, dy };
    this.renderer.schedule();
  }

  endDrag(delta) {
    this.drag = null;
    if (delta) {
      const dx = roundCoord(delta.dx);
      const dy = roundCoord(delta.dy);
      if (dx !== 0 || dy !== 0) {
        for (const id of this.selection) if (this.model.object(id)) this.publish('object.move', { id, dx, dy });
      }
    }
    this.renderer.exclude = null;
    this.renderer.invalidate();
  }

  deleteSelection() {
    if (this.readOnly || !this.selection.size) return;
    for (const id of this.selection) if (this.model.object(id)) this.publish('object.delete', { id });
    this.setSelection([]);
  }

  nudge(dx, dy) {
    if (this.readOnly || !this.selection.size) return;
    for (const id of this.selection) if (this.model.object(id)) this.publish('object.move', { id, dx, dy });
  }

  // ------------------------------------------------------------ text

  startText(bx, by) {
    this.commitText();
    const size = this.strokeSize('text');
    const el = h('textarea', {
      class: 'wb-text-editor', rows: 1, spellcheck: true,
      attrs: { 'aria-label': 'Text', placeholder: 'Type, then Enter' },
    });
    el.style.color = this.color;
    const ed = { el, bx, by, size };
    this.textEditor = ed;
    el.addEventListener('keydown', (e) => {
      e.stopPropagation();
      if (e.key === 'Escape') {
        e.preventDefault();
        this.commitText(true);
      } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.commitText();
      }
    });
    el.addEventListener('input', () => this.positionText());
    el.addEventListener('blur', () => setTimeout(() => { if (this.textEditor === ed) this.commitText(); }, 0));
    this.stage.append(el);
    this.positionText();
    queueMicrotask(() => el.focus());
  }

  positionText() {
    const ed = this.textEditor;
    if (!ed) return;
    const [sx, sy] = this.renderer.toScreen(ed.bx, ed.by);
    const k = this.renderer.view.scale;
    const el = ed.el;
    el.style.left = `${sx}px`;
    el.style.top = `${sy}px`;
    el.style.fontSize = `${ed.size * k}px`;
    el.style.lineHeight = '1.25';
    el.style.height = 'auto';
    el.style.height = `${el.scrollHeight}px`;
    el.style.width = `${Math.max(40, Math.min(900, (measureText(this.renderer.ctx, el.value || ' ', ed.size).w + 24) * k))}px`;
  }

  commitText(cancel = false) {
    const ed = this.textEditor;
    if (!ed) return;
    this.textEditor = null;
    const text = ed.el.value.replace(/\s+$/, '');
    ed.el.remove();
    this.canvas.focus({ preventScroll: true });
    if (cancel || !text.trim() || this.readOnly) return;
    const t = [...text].slice(0, 2000).join('');
    const { w, h: hh } = measureText(this.renderer.ctx, t, ed.size);
    this.publishAdd('shape.add', {
      id: `t${randomId(14)}`, shape: 'text', x: roundCoord(ed.bx), y: roundCoord(ed.by), w, h: hh, color: this.color, size: ed.size, text: t,
    });
  }

  // ------------------------------------------------------------ keyboard

  onKey(e) {
    if (!this.el.isConnected) return;
    if (document.querySelector('.wb-app') !== this.el) return;
    // Keys typed elsewhere (the sidebar, a dialog, a field) are theirs.
    const t = e.target instanceof Element ? e.target : null;
    if (t && t !== document.body && t !== document.documentElement && !this.el.contains(t)) return;
    if (t && (t.isContentEditable || t.closest('input, textarea, select, a[href]'))) return;
    const k = typeof e.key === 'string' ? e.key : '';
    // A toolbar button keeps the keys it acts on, and those of a list.
    if (t?.closest('button, [role="button"]') && (k === ' ' || k === 'Enter' || k === 'Delete' || k === 'Backspace' || k.startsWith('Arrow'))) return;
    const mod = e.ctrlKey || e.metaKey;
    if (mod && !e.altKey && (k === 'z' || k === 'Z')) {
      e.preventDefault();
      if (e.shiftKey) this.redo(); else this.undo();
      return;
    }
    if (mod && !e.altKey && (k === 'y' || k === 'Y')) {
      e.preventDefault();
      this.redo();
      return;
    }
    if (mod && (k === 'a' || k === 'A') && !this.readOnly) {
      e.preventDefault();
      this.setTool('select');
      this.setSelection(this.model.displayOrder().filter((o) => !(o.type === 'stroke' && o.tool === 'eraser')).map((o) => o.id));
      return;
    }
    if (mod && (k === '=' || k === '+' || k === '-' || k === '0')) {
      e.preventDefault();
      if (k === '-') this.zoomBy(1 / 1.25); else if (k === '0') this.zoomReset(); else this.zoomBy(1.25);
      return;
    }
    if (mod || e.altKey) return;
    if (k === ' ' || e.code === 'Space') {
      e.preventDefault();
      this.tools.spaceDown = true;
      this.stage.classList.add('is-space');
      return;
    }
    if (k === 'Delete' || k === 'Backspace') {
      if (this.selection.size) {
        e.preventDefault();
        this.deleteSelection();
      }
      return;
    }
    if (k === 'Escape') {
      this.tools.cancel();
      this.setSelection([]);
      if (this.clearArmed) this.disarmClear();
      return;
    }
    if (k.startsWith('Arrow') && this.selection.size) {
      e.preventDefault();
      const step = (e.shiftKey ? 10 : 1) / Math.max(0.25, this.renderer.view.scale);
      const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[k];
      if (d) this.nudge(roundCoord(d[0]), roundCoord(d[1]));
      return;
    }
    if (k === '+' || k === '=') { this.zoomBy(1.25); return; }
    if (k === '-' || k === '_') { this.zoomBy(1 / 1.25); return; }
    if (k === '0') { this.zoomReset(); return; }
    if (k === '!' || (e.shiftKey && e.code === 'Digit1')) { this.zoomFit(); return; }
    if (k === '[') { this.setSize(this.strokeSize() - (this.strokeSize() > 10 ? 4 : 1)); return; }
    if (k === ']') { this.setSize(this.strokeSize() + (this.strokeSize() >= 10 ? 4 : 1)); return; }
    const tool = TOOLS.find((x) => x.key === k.toUpperCase());
    if (tool && k.length === 1) {
      if (this.readOnly && tool.id !== 'hand' && tool.id !== 'select') return;
      e.preventDefault();
      this.setTool(tool.id);
    }
  }

  // ------------------------------------------------------------ others: live strokes, cursors, presence

  onEphemeral(ev) {
    if (!ev || String(ev.session ?? '') === this.handleSession()) return;
    let changed = false;
    if (ev.kind === 'stroke.live' || ev.kind === 'stroke.end' || ev.kind === 'shape.live' || ev.kind === 'shape.end') {
      if (ev.payload?.id && this.model.loaded && Object.prototype.hasOwnProperty.call(this.model.state.objects, ev.payload.id)) {
        this.liveItems.committed(ev.payload.id);
      } else {
        changed = this.liveItems.onEphemeral(ev) || changed;
      }
    }
    changed = this.cursors.onEphemeral(ev) || changed;
    if (changed) this.renderer.schedule();
  }

  handleSession() {
    return this.session.client?.session ?? '';
  }

  onPresence(p) {
    if (p?.action === 'leave' && p.session) {
      const still = this.handle?.presence?.has(p.session);
      if (!still) {
        if (this.cursors.leave(p.session) | this.liveItems.dropSession(p.session)) this.renderer.schedule();
      }
    }
    this.renderPresence();
  }

  renderPresence() {
    const present = this.ws.presentIn(this.room.id);
    const people = [...present.values()].map((p) => ({ id: p.user, name: this.ws.nameOf(p.user, p.name) }));
    people.sort((a, b) => (a.id === this.me) - (b.id === this.me) || a.name.localeCompare(b.name));
    const shown = people.slice(0, 6);
    replace(this.presenceEl,
      h('div', { class: 'avatar-stack' }, shown.map((p) => h('span', { dataset: { user: p.id }, title: p.id === this.me ? `${p.name} (you)` : p.name }, avatar(p.id, p.name, { size: 'sm', online: true })))),
      people.length > shown.length ? h('span', { class: 'wb-more' }, `+${people.length - shown.length}`) : null,
      h('span', { class: 'chat-online' }, h('span', { class: 'dot-online', attrs: { 'aria-hidden': 'true' } }),
        people.length ? `${people.length} here` : 'Connecting\u2026'),
      h('span', { class: 'sr-only' }, people.length ? `Here now: ${people.map((p) => p.name).join(', ')}` : ''));
    this.presenceEl.dataset.users = people.map((p) => p.id).join(',');
  }

  positionCursors() {
    const seen = new Set();
    const r = this.renderer;
    for (const c of this.cursors.map.values()) {
      seen.add(c.session);
      let el = this.cursorEls.get(c.session);
      const name = this.ws.nameOf(c.user);
      if (!el) {
        const col = `hsl(${hue(c.user)} 70% 42%)`;
        el = h('div', { class: 'wb-cursor', dataset: { session: c.session, user: c.user }, style: { '--cursor': col } },
          h('span', { class: 'wb-cursor-arrow' }), h('span', { class: 'wb-cursor-name' }, name));
        this.cursorEls.set(c.session, el);
        this.cursorLayer.append(el);
      }
      const [sx, sy] = r.toScreen(c.x, c.y);
      const off = sx < -20 || sy < -20 || sx > r.cssW + 20 || sy > r.cssH + 20;
      el.hidden = off;
      el.style.transform = `translate(${Math.round(sx)}px, ${Math.round(sy)}px)`;
    }
    for (const [s, el] of this.cursorEls) {
      if (!seen.has(s)) {
        el.remove();
        this.cursorEls.delete(s);
      }
    }
  }

  showStatus(msg, kind = 'info') {
    if (!msg) {
      this.status.hidden = true;
      return;
    }
    replace(this.status, icon(kind === 'error' ? 'alert' : 'wifi', 16), h('span', null, msg));
    this.status.className = `wb-status chat-status chat-status-${kind}`;
    this.status.hidden = false;
  }

  // ------------------------------------------------------------ share and export

  async copyLink() {
    const url = window.location.href;
    let ok = false;
    try {
      await navigator.clipboard.writeText(url);
      ok = true;
    } catch {
      const ta = h('textarea', { class: 'sr-only', value: url, attrs: { 'aria-hidden': 'true' } });
      document.body.append(ta);
      ta.select();
      try { ok = document.execCommand('copy'); } catch { ok = false; }
      ta.remove();
    }
    this.copyBtn.dataset.copied = ok ? url : '';
    toast(ok ? 'Link copied: anyone in the workspace can open this board with it.' : `Copy this link: ${url}`, ok ? 'info' : 'error', ok ? 3000 : 8000);
  }

  exportObjects() {
    return this.versionView ? this.versionView.order : this.model.displayOrder();
  }

  async downloadPng() {
    const objs = this.exportObjects();
    if (!objs.length) {
      toast('The board is empty: nothing to download.');
      return;
    }
    const cache = this.renderer.cache;
    let blob = null;
    let why = 'the browser could not encode the image';
    try {
      blob = await toPngBlob(objs, (ctx, o) => drawObject(ctx, o, cache), { pixelRatio: Math.min(2, window.devicePixelRatio || 1) });
    } catch (err) {
      why = err?.message ?? String(err);
    }
    if (this.scope.disposed) return;
    if (!blob) {
      toast(`Could not create the PNG: ${why}.`, 'error');
      return;
    }
    downloadBlob(blob, exportName(this.room.name, 'png'));
  }

  downloadSvg() {
    const objs = this.exportObjects();
    if (!objs.length) {
      toast('The board is empty: nothing to download.');
      return;
    }
    const svg = toSvg(objs, { title: this.room.name });
    downloadBlob(new Blob([svg], { type: 'image/svg+xml' }), exportName(this.room.name, 'svg'));
  }

  // ------------------------------------------------------------ versions

  toggleVersions(force) {
    const open = force ?? this.versionsPanel.hidden;
    this.versionsPanel.hidden = !open;
    this.versionsBtn.setAttribute('aria-expanded', open ? 'true' : 'false');
    this.versionsBtn.classList.toggle('is-active', open);
    if (open) {
      if (!this.versionName.value) this.versionName.value = `Version ${new Date().toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' })}`;
      this.loadVersions();
    }
    requestAnimationFrame(() => this.fitCanvas());
  }

  async loadVersions() {
    replace(this.versionList, h('li', null, spinner('Loading versions')));
    try {
      const r = await this.api.versions(this.room.id);
      if (this.scope.disposed) return;
      const list = r?.versions ?? (Array.isArray(r) ? r : []);
      this.renderVersions(list);
    } catch (err) {
      replace(this.versionList, h('li', { class: 'wb-version-empty' }, `Could not load versions: ${describeError(err)}`));
    }
  }

  renderVersions(list) {
    if (!list.length) {
      replace(this.versionList, h('li', { class: 'wb-version-empty muted' }, 'No saved versions yet.'));
      return;
    }
    const role = this.ws.role;
    replace(this.versionList, list.map((v) => {
      const mine = String(v.created_by) === this.me;
      const viewing = this.versionView?.version.id === v.id;
      return h('li', { class: ['wb-version', viewing && 'is-viewing'], dataset: { version: String(v.id), name: v.name } },
        h('div', { class: 'wb-version-main' },
          h('strong', { class: 'wb-version-title' }, v.name),
          h('span', { class: 'muted' }, `${this.ws.nameOf(v.created_by)} \u00b7 ${v.created_at ? formatFull(Date.parse(v.created_at) || v.created_at) : ''}`)),
        h('div', { class: 'wb-version-actions' },
          h('button', { type: 'button', class: 'btn btn-secondary btn-xs', attrs: { 'aria-label': `View version ${v.name}` }, on: { click: () => this.viewVersion(v) } }, icon('wb-eye', 14), 'View'),
          h('button', { type: 'button', class: 'btn btn-secondary btn-xs', disabled: Boolean(this.restoring), dataset: { restore: '' }, attrs: { 'aria-label': `Restore version ${v.name}` }, on: { click: (e) => this.restoreVersion(v, e.currentTarget) } }, icon('retry', 14), 'Restore'),
          mine || role === 'owner' || role === 'admin'
            ? h('button', { type: 'button', class: 'btn btn-ghost btn-xs btn-icon btn-danger-text', attrs: { 'aria-label': `Delete version ${v.name}`, title: 'Delete version' }, on: { click: (e) => this.deleteVersion(v, e.currentTarget) } }, icon('trash', 14))
            : null));
    }));
  }

  async saveVersion() {
    const name = this.versionName.value.trim();
    if (!name) {
      this.versionName.focus();
      return;
    }
    const btn = this.versionForm.querySelector('button[type="submit"]');
    btn.disabled = true;
    try {
      // The version is what this page shows: the folded seq.
      await this.whenActionsSettled();
      try {
        await this.api.createVersion(this.room.id, name, this.model.seq);
      } catch (err) {
        if (err?.status !== 400) throw err;
        await this.api.createVersion(this.room.id, name);
      }
      toast(`Saved version \u201c${name}\u201d.`);
      this.versionName.value = '';
      await this.loadVersions();
    } catch (err) {
      toast(`Could not save the version: ${describeError(err)}`, 'error');
    } finally {
      btn.disabled = false;
    }
  }

  async fetchVersion(v) {
    const r = await this.api.version(this.room.id, v.id);
    const ver = r?.version ?? r;
    const state = ver?.state;
    if (!state || typeof state !== 'object' || !state.objects) throw new Error('the version has no whiteboard state');
    return { ...v, ...ver, state };
  }

  async viewVersion(v) {
    try {
      const ver = await this.fetchVersion(v);
      if (this.scope.disposed) return;
      this.tools.cancel();
      this.commitText(true);
      this.setSelection([]);
      this.versionView = { version: ver, order: objectsInOrder(ver.state) };
      replace(this.banner,
        icon('clock', 16),
        h('span', { class: 'wb-banner-text' }, 'Viewing version ', h('strong', null, `\u201c${ver.name}\u201d`),
          ` \u00b7 ${this.versionView.order.length} object${this.versionView.order.length === 1 ? '' : 's'} \u00b7 read only`),
        h('button', { type: 'button', class: 'btn btn-primary btn-xs', disabled: Boolean(this.restoring), dataset: { restore: '' }, on: { click: (e) => this.restoreVersion(ver, e.currentTarget) } }, 'Restore this version'),
        h('button', { type: 'button', class: 'btn btn-secondary btn-xs', on: { click: () => this.leaveVersion() } }, 'Back to live board'));
      this.banner.hidden = false;
      this.el.dataset.viewing = String(ver.id);
      this.renderer.invalidate();
      this.updateControls();
      this.loadVersions();
    } catch (err) {
      toast(`Could not open the version: ${describeError(err)}`, 'error');
    }
  }

  leaveVersion() {
    if (!this.versionView) return;
    this.versionView = null;
    this.banner.hidden = true;
    delete this.el.dataset.viewing;
    this.renderer.invalidate();
    this.updateControls();
    if (!this.versionsPanel.hidden) this.loadVersions();
  }

  async restoreVersion(v, btn) {
    if (this.readOnlyReason || this.restoring) return;
    if (btn && !btn.classList.contains('is-armed')) {
      // A second click confirms.
      const label = [...btn.childNodes];
      const ariaLabel = btn.getAttribute('aria-label');
      const disarm = () => {
        clearTimeout(timer);
        this.disarmRestore.delete(btn);
        btn.classList.remove('is-armed');
        replace(btn, label);
        if (ariaLabel === null) btn.removeAttribute('aria-label');
        else btn.setAttribute('aria-label', ariaLabel);
      };
      const timer = setTimeout(disarm, 4000);
      this.disarmRestore.set(btn, disarm);
      btn.classList.add('is-armed');
      replace(btn, icon('retry', 14), 'Restore for everyone?');
      btn.setAttribute('aria-label', `Confirm restore version ${v.name}`);
      return;
    }
    this.disarmRestore.get(btn)?.();
    this.setRestoring(true);
    let progress = false;
    try {
      let ver;
      try {
        ver = v.state ? v : await this.fetchVersion(v);
      } catch (err) {
        toast(`Could not open the version: ${describeError(err)}`, 'error');
        return;
      }
      if (this.scope.disposed) return;
      this.leaveVersion();
      const objs = objectsInOrder(ver.state);
      this.showStatus(`Restoring \u201c${ver.name}\u201d\u2026`, 'info');
      progress = true;
      // Failures are told once, at the end, not once per object.
      let failed = 0;
      const send = (kind, payload) => this.publish(kind, payload, { quiet: true }).then((ack) => {
        if (!ack) failed++;
      });
      await this.whenActionsSettled();
      // Clear (undoable), then add the version's objects again as new ones.
      if (this.model.displayOrder().length) send('clear', {});
      let i = 0;
      for (const o of objs) {
        if (this.scope.disposed) return;
        const p = readdPayload(o, `${o.type === 'stroke' ? 's' : 'h'}${randomId(14)}`);
        if (!p) continue;
        while (this.handle && this.handle.pending.length >= RESTORE_WINDOW && !this.scope.disposed) {
          await new Promise((r) => setTimeout(r, 15));
        }
        if (this.scope.disposed) return;
        send(p.kind, p.payload);
        if (++i % 50 === 0) this.showStatus(`Restoring \u201c${ver.name}\u201d: ${i} of ${objs.length}\u2026`, 'info');
      }
      await this.whenActionsSettled(30000);
      if (this.scope.disposed) return;
      if (failed) toast(`Restoring \u201c${ver.name}\u201d failed for ${failed} change${failed === 1 ? '' : 's'}: the board may be incomplete.`, 'error');
      else toast(`Restored \u201c${ver.name}\u201d. Undo the clear to get the previous board back.`);
    } finally {
      this.setRestoring(false);
      if (progress && !this.scope.disposed) this.showStatus(null);
    }
  }

  /** While a restore runs, its progress shows and no other restore starts. */
  setRestoring(on) {
    this.restoring = on;
    this.el.toggleAttribute('data-restoring', on);
    this.el.setAttribute('aria-busy', on ? 'true' : 'false');
    for (const b of this.el.querySelectorAll('button[data-restore]')) {
      if (on) this.disarmRestore.get(b)?.();
      b.disabled = on;
    }
  }

  async deleteVersion(v, btn) {
    if (!btn.classList.contains('is-armed')) {
      btn.classList.add('is-armed');
      btn.setAttribute('aria-label', `Confirm delete version ${v.name}`);
      setTimeout(() => { if (btn.isConnected) { btn.classList.remove('is-armed'); btn.setAttribute('aria-label', `Delete version ${v.name}`); } }, 4000);
      return;
    }
    try {
      await this.api.deleteVersion(this.room.id, v.id);
      if (this.versionView?.version.id === v.id) this.leaveVersion();
      await this.loadVersions();
    } catch (err) {
      toast(`Could not delete the version: ${describeError(err)}`, 'error');
    }
  }
}

