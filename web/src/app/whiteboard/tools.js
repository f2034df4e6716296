// tools.js — pointer input on the board (Pointer Events: mouse, pen and
// touch alike): drawing, erasing, shapes, text, selecting and moving,
// panning (hand tool, space-drag, middle button, two fingers) and pinch
// zoom. The tools act through the view (view.js), which owns publishing.

import { randomId } from '../../lib/ids.js';
import { boxFrom, contains, hitObject, intersects, prepareStroke, roundCoord, zoomAt } from './geometry.js';
import { StrokeStream } from './live.js';

export const TOOLS = [
  { id: 'select', label: 'Select and move', key: 'V', icon: 'wb-select' },
  { id: 'hand', label: 'Pan', key: 'H', icon: 'wb-hand' },
  { id: 'pen', label: 'Brush', key: 'B', icon: 'pen' },
  { id: 'eraser', label: 'Eraser', key: 'E', icon: 'wb-eraser' },
  { id: 'rect', label: 'Rectangle', key: 'R', icon: 'wb-rect' },
  { id: 'ellipse', label: 'Ellipse', key: 'O', icon: 'wb-ellipse' },
  { id: 'line', label: 'Line', key: 'L', icon: 'wb-line' },
  { id: 'arrow', label: 'Arrow', key: 'A', icon: 'wb-arrow' },
  { id: 'text', label: 'Text', key: 'T', icon: 'wb-text' },
];

const LIVE_INTERVAL_MS = 33; // ~30 Hz
const SHAPES = new Set(['rect', 'ellipse', 'line', 'arrow']);
const newObjectId = (p) => `${p}${randomId(14)}`;

export class ToolController {
  /** @param {object} view the WhiteboardView */
  constructor(view, canvas) {
    this.view = view;
    this.canvas = canvas;
    this.active = null;
    this.pointers = new Map(); // touch pointers for pinch
    this.spaceDown = false;
    this.liveTimer = 0;
    this.on = {
      pointerdown: (e) => this.down(e),
      pointermove: (e) => this.move(e),
      pointerup: (e) => this.up(e, false),
      pointercancel: (e) => this.up(e, true),
      pointerleave: (e) => { if (e.pointerType === 'mouse' && !this.active) this.view.cursorGone(); },
      lostpointercapture: (e) => { if (this.active && this.active.pointerId === e.pointerId) this.up(e, false); },
      wheel: (e) => this.wheel(e),
      contextmenu: (e) => e.preventDefault(),
    };
    for (const [k, fn] of Object.entries(this.on)) canvas.addEventListener(k, fn, k === 'wheel' ? { passive: false } : undefined);
  }

  destroy() {
    this.cancel();
    for (const [k, fn] of Object.entries(this.on)) this.canvas.removeEventListener(k, fn);
    clearInterval(this.liveTimer);
  }

  get r() { return this.view.renderer; }

  #local(e) {
    const rect = this.canvas.getBoundingClientRect();
    return [e.clientX - rect.left, e.clientY - rect.top];
  }

  #board(e) {
    const [sx, sy] = this.#local(e);
    return this.r.toBoard(sx, sy);
  }

  /** Cancels what is in progress (Escape, a second finger, leaving the tool). */
  cancel() {
    const a = this.active;
    if (!a) return;
    this.active = null;
    clearInterval(this.liveTimer);
    if (a.type === 'draw') a.stream.end(true);
    if (a.type === 'shape' && a.sent) this.view.live('shape.end', { id: a.id, cancel: true });
    if (a.type === 'move') this.view.endDrag(null);
    this.r.schedule();
  }

  down(e) {
    const v = this.view;
    if (e.pointerType === 'touch') {
      this.pointers.set(e.pointerId, this.#local(e));
      if (this.pointers.size === 2) {
        // A second finger: pinch zoom and pan instead of drawing.
        this.cancel();
        const [a, b] = [...this.pointers.values()];
        this.active = { type: 'pinch', start: pinchInfo(a, b), view0: { ...this.r.view } };
        return;
      }
      if (this.pointers.size > 2) return;
    }
    if (this.active) return;
    if (e.button === 2) return;
    e.preventDefault();
    this.canvas.focus({ preventScroll: true });
    try { this.canvas.setPointerCapture(e.pointerId); } catch { /* synthetic */ }
    const [sx, sy] = this.#local(e);
    const [bx, by] = this.r.toBoard(sx, sy);
    const tool = v.tool;
    if (e.button === 1 || this.spaceDown || tool === 'hand' || (v.readOnly && tool !== 'select')) {
      this.active = { type: 'pan', pointerId: e.pointerId, sx, sy, view0: { ...this.r.view } };
      v.setPanning(true);
      return;
    }
    if (v.readOnly) return;
    if (tool === 'pen' || tool === 'eraser') {
      const stream = new StrokeStream({
        id: newObjectId('s'), color: v.color, size: v.strokeSize(tool), tool, send: (k, p) => v.live(k, p),
      });
      stream.add(bx, by);
      this.active = { type: 'draw', pointerId: e.pointerId, stream };
      clearInterval(this.liveTimer);
      this.liveTimer = setInterval(() => stream.tick(), LIVE_INTERVAL_MS);
      this.r.schedule();
      return;
    }
    if (SHAPES.has(tool)) {
      this.active = { type: 'shape', pointerId: e.pointerId, shape: tool, id: newObjectId('h'), x0: bx, y0: by, x1: bx, y1: by, sent: false, lastSent: 0 };
      this.r.schedule();
      return;
    }
    if (tool === 'text') {
      v.startText(bx, by);
      return;
    }
    if (tool === 'select') {
      const hit = v.hitTest(bx, by);
      if (hit) {
        if (e.shiftKey) {
          v.toggleSelected(hit.id);
          return;
        }
        if (!v.selection.has(hit.id)) v.setSelection([hit.id]);
        this.active = { type: 'move', pointerId: e.pointerId, bx0: bx, by0: by, dx: 0, dy: 0, started: false, sx, sy };
        return;
      }
      if (!e.shiftKey) v.setSelection([]);
      this.active = { type: 'marquee', pointerId: e.pointerId, x0: bx, y0: by, x1: bx, y1: by, additive: e.shiftKey };
    }
  }

  move(e) {
    const v = this.view;
    if (e.pointerType === 'touch' && this.pointers.has(e.pointerId)) {
      this.pointers.set(e.pointerId, this.#local(e));
      if (this.active?.type === 'pinch' && this.pointers.size >= 2) {
        const [a, b] = [...this.pointers.values()];
        const now = pinchInfo(a, b);
        const st = this.active.start;
        const v0 = this.active.view0;
        const f = now.dist / Math.max(1, st.dist);
        let view = zoomAt(v0, f, st.cx, st.cy);
        view = { ...view, tx: view.tx + (now.cx - st.cx), ty: view.ty + (now.cy - st.cy) };
        v.setView(view, { lazy: true });
        return;
      }
    }
    const a = this.active;
    const [sx, sy] = this.#local(e);
    const [bx, by] = this.r.toBoard(sx, sy);
    if (!a) {
      v.pointerAt(bx, by);
      return;
    }
    if (a.pointerId !== e.pointerId) return;
    switch (a.type) {
      case 'pan':
        v.setView({ scale: a.view0.scale, tx: a.view0.tx + (sx - a.sx), ty: a.view0.ty + (sy - a.sy) }, { lazy: true });
        break;
      case 'draw': {
        const events = typeof e.getCoalescedEvents === 'function' ? e.getCoalescedEvents() : [];
        if (events.length) {
          for (const ce of events) {
            const [cx, cy] = this.#board(ce);
            a.stream.add(cx, cy);
          }
        } else {
          a.stream.add(bx, by);
        }
        this.r.schedule();
        break;
      }
      case 'shape': {
        let x1 = bx;
        let y1 = by;
        if (e.shiftKey) [x1, y1] = constrain(a.shape, a.x0, a.y0, bx, by);
        a.x1 = x1;
        a.y1 = y1;
        const now = performance.now();
        if (now - a.lastSent >= LIVE_INTERVAL_MS) {
          a.lastSent = now;
          a.sent = v.live('shape.live', { id: a.id, ...shapePayload(a, v) }) || a.sent;
        }
        this.r.schedule();
        break;
      }
      case 'move': {
        a.dx = bx - a.bx0;
        a.dy = by - a.by0;
        if (!a.started && Math.hypot(sx - a.sx, sy - a.sy) > 3) {
          a.started = true;
          v.beginDrag();
        }
        if (a.started) v.dragTo(a.dx, a.dy);
        break;
      }
      case 'marquee':
        a.x1 = bx;
        a.y1 = by;
        this.r.schedule();
        break;
      default:
    }
  }

  up(e, cancelled) {
    const v = this.view;
    if (e.pointerType === 'touch') {
      this.pointers.delete(e.pointerId);
      if (this.active?.type === 'pinch') {
        if (this.pointers.size < 2) this.active = null;
        return;
      }
    }
    const a = this.active;
    if (!a || a.pointerId !== e.pointerId) return;
    this.active = null;
    clearInterval(this.liveTimer);
    try { this.canvas.releasePointerCapture(e.pointerId); } catch { /* not captured */ }
    if (cancelled && a.type !== 'pan') {
      if (a.type === 'draw') a.stream.end(true);
      if (a.type === 'shape' && a.sent) v.live('shape.end', { id: a.id, cancel: true });
      if (a.type === 'move') v.endDrag(null);
      this.r.schedule();
      return;
    }
    switch (a.type) {
      case 'pan':
        v.setPanning(false);
        break;
      case 'draw': {
        const s = a.stream;
        const points = prepareStroke(s.points, { tolerance: 0.3 / this.r.view.scale });
        if (points.length) {
          const payload = { id: s.id, points, color: s.color, size: s.size };
          if (s.tool === 'eraser') payload.tool = 'eraser';
          v.publishAdd('stroke.add', payload);
        }
        s.end(points.length === 0);
        break;
      }
      case 'shape': {
        const p = shapePayload(a, v);
        const minSide = 2 / this.r.view.scale;
        const big = SHAPES.has(a.shape) && (a.shape === 'line' || a.shape === 'arrow'
          ? Math.hypot(p.w, p.h) >= minSide * 2 : Math.abs(p.w) >= minSide && Math.abs(p.h) >= minSide);
        if (big) v.publishAdd('shape.add', { id: a.id, shape: a.shape, ...p });
        if (a.sent) v.live('shape.end', big ? { id: a.id } : { id: a.id, cancel: true });
        break;
      }
      case 'move':
        v.endDrag(a.started ? { dx: a.dx, dy: a.dy } : null);
        break;
      case 'marquee': {
        const box = boxFrom(a.x0, a.y0, a.x1, a.y1);
        if (box.x1 - box.x0 > 1 || box.y1 - box.y0 > 1) {
          const ids = v.objectsIn(box);
          v.setSelection(a.additive ? [...v.selection, ...ids] : ids);
        }
        break;
      }
      default:
    }
    this.r.schedule();
  }

  wheel(e) {
    e.preventDefault();
    const [sx, sy] = this.#local(e);
    const v = this.view;
    if (e.shiftKey && !e.ctrlKey) {
      const r = this.r.view;
      v.setView({ ...r, tx: r.tx - (e.deltaY || e.deltaX), ty: r.ty }, { lazy: true });
      return;
    }
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
    const d = Math.max(-200, Math.min(200, e.deltaY * unit));
    const factor = Math.exp(-d * (e.ctrlKey ? 0.01 : 0.0015));
    v.setView(zoomAt(this.r.view, factor, sx, sy), { lazy: true });
  }

  /** Draws what the active tool has in progress (board transform set). */
  drawOverlay(ctx) {
    const a = this.active;
    const v = this.view;
    if (!a) return;
    if (a.type === 'draw') {
      this.r.drawLive(ctx, a.stream);
    } else if (a.type === 'shape') {
      this.r.drawShapePreview(ctx, { shape: a.shape, ...shapePayload(a, v) });
    } else if (a.type === 'marquee') {
      this.r.drawMarquee(ctx, boxFrom(a.x0, a.y0, a.x1, a.y1));
    }
  }
}

function pinchInfo(a, b) {
  return { cx: (a[0] + b[0]) / 2, cy: (a[1] + b[1]) / 2, dist: Math.hypot(a[0] - b[0], a[1] - b[1]) };
}

/** Shift: squares, circles, lines at multiples of 45°. */
function constrain(shape, x0, y0, x1, y1) {
  const dx = x1 - x0;
  const dy = y1 - y0;
  if (shape === 'line' || shape === 'arrow') {
    const ang = Math.round(Math.atan2(dy, dx) / (Math.PI / 4)) * (Math.PI / 4);
    const len = Math.hypot(dx, dy);
    return [x0 + len * Math.cos(ang), y0 + len * Math.sin(ang)];
  }
  const s = Math.max(Math.abs(dx), Math.abs(dy));
  return [x0 + Math.sign(dx || 1) * s, y0 + Math.sign(dy || 1) * s];
}

function shapePayload(a, v) {
  return {
    x: roundCoord(a.x0), y: roundCoord(a.y0), w: roundCoord(a.x1 - a.x0), h: roundCoord(a.y1 - a.y0), color: v.color, size: v.strokeSize(a.shape),
  };
}

/** Ids of the visible objects lying inside box, in z-order. */
export function objectsInBox(list, box, boundsOf) {
  return list.filter((o) => contains(box, boundsOf(o))).map((o) => o.id);
}

/** The topmost visible object at (x, y) within tol, or null. */
export function topHit(list, x, y, tol, boundsOf) {
  const probe = { x0: x - tol, y0: y - tol, x1: x + tol, y1: y + tol };
  for (let i = list.length - 1; i >= 0; i--) {
    const o = list[i];
    const b = boundsOf(o);
    if (!intersects(b, probe)) continue;
    if (hitObject(o, x, y, tol, b)) return o;
  }
  return null;
}
