// render.js — the board on screen.
//
// Two layers, composed into the one visible canvas (data-testid="wb-canvas"):
// - the committed layer, an offscreen canvas of the viewport's size holding
//   every committed object drawn with the view it was rendered for. It is
//   drawn once; a new event's object (the highest seq, so the top of the
//   z-order) is drawn on top of it and nothing else is touched. It is
//   redrawn in full only when older objects change (hide, unhide, move,
//   undo, clear) or the view changes; while panning or zooming, the cached
//   bitmap is moved and scaled and the full redraw waits until the gesture
//   pauses. Objects outside the viewport are skipped by their cached
//   bounding boxes; strokes keep one Path2D each.
// - the live layer, redrawn at each frame in which something moved: this
//   page's pending publishes, strokes and shapes in progress (one's own and
//   others'), the selection, marquee.
// All work is coalesced into one requestAnimationFrame.

import { ObjectCache, drawLiveStroke, drawObject } from './draw.js';
import { intersects } from './geometry.js';

const LAZY_MS = 140;
const SELECT_COLOR = '#5b5bd6';

export class BoardRenderer {
  /**
   * @param {HTMLCanvasElement} canvas the visible canvas
   * @param {{layerObjects: () => object[], overlay: (ctx: CanvasRenderingContext2D, r: BoardRenderer) => void,
   *   onFrame?: (info: object) => void}} src
   */
  constructor(canvas, src) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.src = src;
    this.layer = document.createElement('canvas');
    this.lctx = this.layer.getContext('2d');
    this.cache = new ObjectCache();
    this.cssW = 0;
    this.cssH = 0;
    this.dpr = 1;
    this.view = { scale: 1, tx: 0, ty: 0 };
    this.layerView = null; // the view the layer was drawn with
    this.full = true;
    this.appends = [];
    this.exclude = null; // ids kept off the layer (being dragged)
    this.raf = 0;
    this.lazyTimer = 0;
    this.interacting = false;
    this.destroyed = false;
    this.stats = { fullRenders: 0, lastFullMs: 0, appends: 0, frames: 0, drawn: 0 };
  }

  destroy() {
    this.destroyed = true;
    cancelAnimationFrame(this.raf);
    clearTimeout(this.lazyTimer);
    this.cache.clear();
  }

  /** Sets the canvas size (CSS pixels) and device pixel ratio. */
  resize(w, h, dpr = window.devicePixelRatio || 1) {
    w = Math.max(1, Math.round(w));
    h = Math.max(1, Math.round(h));
    if (w === this.cssW && h === this.cssH && dpr === this.dpr) return;
    this.cssW = w;
    this.cssH = h;
    this.dpr = dpr;
    for (const c of [this.canvas, this.layer]) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.invalidate();
  }

  /** The board rectangle the screen shows. */
  viewportBounds(view = this.view, pad = 0) {
    const { scale, tx, ty } = view;
    return {
      x0: (-tx - pad) / scale,
      y0: (-ty - pad) / scale,
      x1: (this.cssW - tx + pad) / scale,
      y1: (this.cssH - ty + pad) / scale,
    };
  }

  toBoard(sx, sy) {
    return [(sx - this.view.tx) / this.view.scale, (sy - this.view.ty) / this.view.scale];
  }

  toScreen(bx, by) {
    return [bx * this.view.scale + this.view.tx, by * this.view.scale + this.view.ty];
  }

  /**
   * Changes the view. With `lazy`, the layer is redrawn only after the
   * gesture pauses (the cached bitmap is transformed meanwhile).
   */
  setView(view, { lazy = false } = {}) {
    this.view = { ...view };
    if (lazy && this.layerView) {
      this.interacting = true;
      clearTimeout(this.lazyTimer);
      this.lazyTimer = setTimeout(() => {
        this.interacting = false;
        this.invalidate();
      }, LAZY_MS);
      this.schedule();
    } else {
      this.interacting = false;
      this.invalidate();
    }
  }

  /** Redraws the committed layer in full at the next frame. */
  invalidate() {
    this.full = true;
    this.appends.length = 0;
    this.schedule();
  }

  /** Draws an object on top of the committed layer at the next frame. */
  append(o) {
    if (!this.full) this.appends.push(o);
    this.schedule();
  }

  /** Recomposes the visible canvas (live layer changed) at the next frame. */
  schedule() {
    if (this.raf || this.destroyed) return;
    this.raf = requestAnimationFrame(() => this.frame());
  }

  #setBoardTransform(ctx, view) {
    const k = this.dpr * view.scale;
    ctx.setTransform(k, 0, 0, k, this.dpr * view.tx, this.dpr * view.ty);
  }

  /** Redraws the committed layer from scratch with the current view. */
  renderLayer() {
    const t0 = performance.now();
    const ctx = this.lctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalCompositeOperation = 'source-over';
    ctx.clearRect(0, 0, this.layer.width, this.layer.height);
    this.#setBoardTransform(ctx, this.view);
    const vp = this.viewportBounds(this.view, 4);
    const list = this.src.layerObjects();
    const ex = this.exclude;
    let drawn = 0;
    for (const o of list) {
      if (ex && ex.has(o.id)) continue;
      if (!intersects(this.cache.bounds(o), vp)) continue;
      drawObject(ctx, o, this.cache);
      drawn++;
    }
    this.layerView = { ...this.view };
    this.full = false;
    this.appends.length = 0;
    this.stats.fullRenders++;
    this.stats.drawn = drawn;
    this.stats.lastFullMs = performance.now() - t0;
  }

  #drawAppends() {
    const ctx = this.lctx;
    this.#setBoardTransform(ctx, this.layerView);
    const vp = this.viewportBounds(this.layerView, 4);
    for (const o of this.appends) {
      if (o.hidden || (this.exclude && this.exclude.has(o.id))) continue;
      if (!intersects(this.cache.bounds(o), vp)) continue;
      drawObject(ctx, o, this.cache);
      this.stats.appends++;
    }
    this.appends.length = 0;
  }

  frame() {
    this.raf = 0;
    if (globalThis.__wbTrace) performance.mark('wb-frame');
    if (this.destroyed || !this.cssW) return;
    let fullDone = false;
    if (this.full && !(this.interacting && this.layerView)) {
      this.renderLayer();
      fullDone = true;
    } else if (this.appends.length) {
      this.#drawAppends();
    }
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalCompositeOperation = 'source-over';
    ctx.globalAlpha = 1;
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    const lv = this.layerView;
    if (lv) {
      const v = this.view;
      if (lv.scale === v.scale && lv.tx === v.tx && lv.ty === v.ty) {
        ctx.drawImage(this.layer, 0, 0);
      } else {
        // The cached bitmap, moved and scaled to the current view.
        const f = v.scale / lv.scale;
        ctx.setTransform(f, 0, 0, f, this.dpr * (v.tx - lv.tx * f), this.dpr * (v.ty - lv.ty * f));
        ctx.imageSmoothingEnabled = true;
        ctx.drawImage(this.layer, 0, 0);
      }
    }
    this.#setBoardTransform(ctx, this.view);
    this.src.overlay(ctx, this);
    this.stats.frames++;
    this.src.onFrame?.({ full: fullDone });
  }

  // ------------------------------------------------------------ overlay helpers

  /** Draws objects (pending or dragged) on the live layer; erasers paint white. */
  drawObjects(ctx, list, { offsetX = 0, offsetY = 0, alpha = 1 } = {}) {
    const vp = this.viewportBounds(this.view, 4);
    for (const o of list) {
      const b = this.cache.bounds(o);
      const moved = offsetX || offsetY ? { x0: b.x0 + offsetX, y0: b.y0 + offsetY, x1: b.x1 + offsetX, y1: b.y1 + offsetY } : b;
      if (!intersects(moved, vp)) continue;
      drawObject(ctx, o, this.cache, { eraseWith: '#ffffff', offsetX, offsetY, alpha });
    }
  }

  drawLive(ctx, s) {
    drawLiveStroke(ctx, s);
  }

  /** Dashed boxes around selected objects. */
  drawSelection(ctx, boxes, { offsetX = 0, offsetY = 0 } = {}) {
    const k = 1 / this.view.scale;
    ctx.save();
    ctx.lineWidth = 1.5 * k;
    ctx.strokeStyle = SELECT_COLOR;
    ctx.setLineDash([5 * k, 4 * k]);
    for (const b of boxes) {
      const pad = 4 * k;
      ctx.strokeRect(b.x0 + offsetX - pad, b.y0 + offsetY - pad, b.x1 - b.x0 + 2 * pad, b.y1 - b.y0 + 2 * pad);
    }
    ctx.restore();
  }

  drawMarquee(ctx, box) {
    const k = 1 / this.view.scale;
    ctx.save();
    ctx.fillStyle = 'rgba(91, 91, 214, 0.08)';
    ctx.strokeStyle = SELECT_COLOR;
    ctx.lineWidth = k;
    ctx.fillRect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
    ctx.strokeRect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
    ctx.restore();
  }

  /** A shape being drawn (not yet an object). */
  drawShapePreview(ctx, s) {
    drawObject(ctx, { ...s, type: s.shape, dx: 0, dy: 0 }, null, { eraseWith: '#ffffff' });
  }
}

