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
//
// A full render of a big layer (PARALLEL_MIN_COST, about 700 strokes of 40
// points) is drawn in module workers instead (raster.js): the objects are
// split into contiguous z-ranges drawn concurrently on OffscreenCanvas,
// and the bitmaps are composited into the layer in order when they are
// all back. Meanwhile the main thread stays free: the previous layer (if
// any) stays on screen, transformed to the current view; objects added
// meanwhile are drawn on top of it and go onto the new layer once it has
// landed. One such job is in flight at a time; an invalidation meanwhile
// starts the next one when it lands. Appends (a new object on top) are
// always drawn on the main thread.

import { ObjectCache, drawLiveStroke, drawObject } from './draw.js';
import { intersects } from './geometry.js';
import { acquirePool, listCost, packRange, releasePool, splitRanges } from './raster.js';

const LAZY_MS = 140;
const SELECT_COLOR = '#5b5bd6';
/** Full renders costing at least this much (raster.js objectCost: about the points) go to the workers. */
export const PARALLEL_MIN_COST = 30000;

export class BoardRenderer {
  /**
   * @param {HTMLCanvasElement} canvas the visible canvas
   * @param {{layerObjects: () => object[], overlay: (ctx: CanvasRenderingContext2D, r: BoardRenderer) => void,
   *   onFrame?: (info: object) => void}} src
   * @param {{parallel?: 'auto'|'always'|'off'}} [opts] full renders in workers: when big enough (auto),
   *   always (tests), never
   */
  constructor(canvas, src, { parallel = 'auto' } = {}) {
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
    this.layerExclude = null; // the ids the layer was drawn without
    this.full = true;
    this.appends = [];
    this.exclude = null; // ids kept off the layer (being dragged)
    this.raf = 0;
    this.lazyTimer = 0;
    this.interacting = false;
    this.destroyed = false;
    this.parallel = parallel;
    this.pool = parallel === 'off' ? null : acquirePool();
    this.job = null; // the full render in the workers
    this.landed = false; // a job's layer landed since the last frame
    this.stats = { fullRenders: 0, lastFullMs: 0, appends: 0, frames: 0, drawn: 0, parallelRenders: 0, ranges: 0, sentMs: 0, rangeMs: [] };
  }

  destroy() {
    this.destroyed = true;
    cancelAnimationFrame(this.raf);
    clearTimeout(this.lazyTimer);
    this.cache.clear();
    this.job = null;
    releasePool(this.pool);
    this.pool = null;
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

  /** The objects a full render of the layer draws: in z-order, in the viewport, not excluded. */
  layerList(view = this.view) {
    const vp = this.viewportBounds(view, 4);
    const ex = this.exclude;
    const out = [];
    for (const o of this.src.layerObjects()) {
      if (ex && ex.has(o.id)) continue;
      if (!intersects(this.cache.bounds(o), vp)) continue;
      out.push(o);
    }
    return out;
  }

  /** Redraws the committed layer from scratch with the current view, on this thread. */
  renderLayer(list = this.layerList()) {
    const t0 = performance.now();
    const ctx = this.lctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalCompositeOperation = 'source-over';
    ctx.clearRect(0, 0, this.layer.width, this.layer.height);
    this.#setBoardTransform(ctx, this.view);
    for (const o of list) drawObject(ctx, o, this.cache);
    this.layerView = { ...this.view };
    this.layerExclude = this.exclude;
    this.full = false;
    this.appends.length = 0;
    this.stats.fullRenders++;
    this.stats.drawn = list.length;
    this.stats.lastFullMs = performance.now() - t0;
  }

  #wantsParallel(list) {
    const pool = this.pool;
    if (!pool || pool.broken || !list.length) return false;
    return this.parallel === 'always' || listCost(list) >= PARALLEL_MIN_COST;
  }

  /** Starts a full render in the workers; the layer is replaced when it lands. */
  #startJob(list, t0) {
    const ranges = splitRanges(list, this.pool.size);
    const packed = ranges.map(([a, b]) => packRange(list, a, b));
    const k = this.dpr * this.view.scale;
    const job = { t0, view: { ...this.view }, exclude: this.exclude, drawn: list.length, ranges: ranges.length };
    this.job = job;
    this.full = false;
    this.appends.length = 0;
    job.sentMs = performance.now() - t0;
    this.pool.render(packed, {
      width: this.layer.width,
      height: this.layer.height,
      transform: [k, 0, 0, k, this.dpr * this.view.tx, this.dpr * this.view.ty],
    }).then((bitmaps) => this.#land(job, bitmaps), (err) => this.#jobFailed(job, err));
  }

  #land(job, results) {
    if (this.job !== job || this.destroyed) {
      for (const r of results) r.bitmap.close();
      return;
    }
    this.job = null;
    const ctx = this.lctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.globalCompositeOperation = 'source-over';
    ctx.globalAlpha = 1;
    ctx.clearRect(0, 0, this.layer.width, this.layer.height);
    for (const { bitmap } of results) {
      ctx.drawImage(bitmap, 0, 0);
      bitmap.close();
    }
    // Objects added since the job started are in this.appends: drawn next frame.
    this.layerView = job.view;
    this.layerExclude = job.exclude;
    this.landed = true;
    this.stats.fullRenders++;
    this.stats.parallelRenders++;
    this.stats.ranges = job.ranges;
    this.stats.sentMs = job.sentMs;
    this.stats.rangeMs = results.map((r) => Math.round(r.ms));
    this.stats.drawn = job.drawn;
    this.stats.lastFullMs = performance.now() - job.t0;
    this.schedule();
  }

  #jobFailed(job, err) {
    if (this.job !== job || this.destroyed) return;
    this.job = null;
    console.warn('whiteboard: drawing in workers failed, drawing on the main thread', err);
    releasePool(this.pool);
    this.pool = null;
    this.invalidate();
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
    // A job's layer that shows the latest state counts as a full render.
    let fullDone = this.landed && !this.full;
    this.landed = false;
    if (this.full && !(this.interacting && this.layerView) && !this.job) {
      const t0 = performance.now();
      const list = this.layerList();
      if (this.#wantsParallel(list)) {
        this.#startJob(list, t0);
      } else {
        this.renderLayer(list);
        fullDone = true;
      }
    } else if (this.appends.length && !this.job && !this.full) {
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
    const ex = this.exclude;
    if (this.layerExclude && this.layerExclude !== ex && lv) {
      // The layer on screen left out objects no longer left out (a drag
      // ended; the new layer is still being drawn): shown on top meanwhile.
      const back = this.src.layerObjects().filter((o) => this.layerExclude.has(o.id) && !(ex && ex.has(o.id)));
      if (back.length) this.drawObjects(ctx, back);
    }
    if (this.job && this.appends.length) {
      // Added while the workers draw: shown on top until the new layer lands.
      this.drawObjects(ctx, this.appends.filter((o) => !o.hidden && !(ex && ex.has(o.id))));
    }
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

