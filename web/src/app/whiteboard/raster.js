// raster.js — drawing the committed layer in parallel, in module workers
// (raster-worker.js) on OffscreenCanvas.
//
// Rasterizing thousands of round-capped strokes is what a full render of a
// big board costs (without a GPU, Skia's software stroker and scan
// converter, not the drawing calls). The renderer (render.js) splits the
// z-ordered objects it would draw into contiguous ranges of similar cost;
// each worker draws one range on a transparent canvas of the layer's size
// with the layer's transform, and the bitmaps are composited in range
// order (source-over is associative: the same picture, up to 8-bit
// rounding where translucent edges overlap).
//
// An eraser stroke (destination-out) erases only what lies below it in its
// own bitmap, so every range boundary lies above the last eraser stroke:
// the ranges after the first hold none (with an eraser near the top, the
// first range is most of the work).
//
// Strokes travel packed: all their coordinates in one Float64Array (exact,
// transferred, not cloned) and their styles in typed arrays; other objects
// (shapes, text) are sent as they are. The worker draws a packed stroke
// exactly as drawObject() does (same state, same path through
// tracePacked()); others with drawObject() itself.
//
// No DOM here beyond Worker, OffscreenCanvas and Path2D inside functions:
// the pure parts are imported by Node unit tests.

import { drawObject } from './draw.js';
import { tracePacked } from './geometry.js';

export const PEN = 0;
export const ERASER = 1;
export const OTHER = 2;

const JOB_TIMEOUT_MS = 20000;
const IDLE_TERMINATE_MS = 30000;

const isEraser = (o) => o.type === 'stroke' && o.tool === 'eraser';

/** A stroke drawn from packed coordinates (a labelled one goes as an object). */
const packable = (o) => o.type === 'stroke' && Array.isArray(o.points) && !(typeof o.text === 'string' && o.text);

/** What drawing o costs, roughly (for balancing the ranges): its points. */
export function objectCost(o) {
  return o.type === 'stroke' && Array.isArray(o.points) ? o.points.length + 4 : 12;
}

/** The total cost of drawing list. */
export function listCost(list) {
  let c = 0;
  for (const o of list) c += objectCost(o);
  return c;
}

/**
 * Splits list (z-order) into at most n contiguous ranges [from, to) of
 * similar cost. No eraser stroke lies in a range after the first.
 * @param {object[]} list
 * @param {number} n
 * @returns {number[][]}
 */
export function splitRanges(list, n) {
  const len = list.length;
  if (n <= 1 || len < 2) return [[0, len]];
  const cum = new Float64Array(len + 1);
  let lastEraser = -1;
  for (let i = 0; i < len; i++) {
    cum[i + 1] = cum[i] + objectCost(list[i]);
    if (isEraser(list[i])) lastEraser = i;
  }
  const total = cum[len];
  const ranges = [];
  let from = 0;
  for (let left = n; left > 1; left--) {
    // Each range takes an equal share of what is left.
    const target = cum[from] + (total - cum[from]) / left;
    let b = from + 1;
    while (b < len && cum[b] < target) b++;
    if (ranges.length === 0) b = Math.max(b, lastEraser + 1);
    if (b >= len) break;
    ranges.push([from, b]);
    from = b;
  }
  ranges.push([from, len]);
  return ranges;
}

/**
 * Packs list[from, to) for a worker. Returns {job, transfer}: job holds
 * count, kind (PEN, ERASER, OTHER per object), start and npts (the stroke's
 * points in xy), size, color (index into palette), dx, dy, and others (the
 * OTHER objects in order); transfer lists the buffers to transfer.
 */
export function packRange(list, from, to) {
  const m = to - from;
  let np = 0;
  for (let i = from; i < to; i++) if (packable(list[i])) np += list[i].points.length;
  const xy = new Float64Array(2 * np);
  const kind = new Uint8Array(m);
  const start = new Uint32Array(m);
  const npts = new Uint32Array(m);
  const size = new Float64Array(m);
  const color = new Uint16Array(m);
  const dx = new Float64Array(m);
  const dy = new Float64Array(m);
  const palette = [];
  const paletteIndex = new Map();
  const others = [];
  let p = 0;
  for (let j = 0; j < m; j++) {
    const o = list[from + j];
    if (!packable(o)) {
      kind[j] = OTHER;
      others.push(o);
      continue;
    }
    kind[j] = o.tool === 'eraser' ? ERASER : PEN;
    start[j] = p / 2;
    const pts = o.points;
    for (let k = 0; k < pts.length; k++) {
      xy[p++] = pts[k][0];
      xy[p++] = pts[k][1];
    }
    npts[j] = pts.length;
    size[j] = o.size;
    let c = paletteIndex.get(o.color);
    if (c === undefined) {
      c = palette.length;
      palette.push(o.color);
      paletteIndex.set(o.color, c);
    }
    color[j] = c;
    dx[j] = Number(o.dx) || 0;
    dy[j] = Number(o.dy) || 0;
  }
  const job = { count: m, kind, start, npts, xy, size, color, dx, dy, palette, others };
  return { job, transfer: [xy.buffer, kind.buffer, start.buffer, npts.buffer, size.buffer, color.buffer, dx.buffer, dy.buffer] };
}

/**
 * Draws a packed range on ctx (a fresh, transparent canvas) with the base
 * transform [a, b, c, d, e, f]: the same pixels drawObject() would give,
 * object by object.
 */
export function drawPacked(ctx, job, base) {
  const { kind, start, npts, xy, size, color, dx, dy, palette, others } = job;
  // drawObject sets these for every object, within save()/restore() from
  // the context's defaults (the layer's context never changes them outside);
  // a packed stroke sets the same ones directly.
  const defaultWidth = 1;
  const defaultStyle = '#000000';
  let oi = 0;
  for (let j = 0; j < job.count; j++) {
    ctx.setTransform(base[0], base[1], base[2], base[3], base[4], base[5]);
    ctx.globalCompositeOperation = 'source-over';
    if (kind[j] === OTHER) {
      drawObject(ctx, others[oi++], null);
      continue;
    }
    if (dx[j] || dy[j]) ctx.translate(dx[j], dy[j]);
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    // An invalid value leaves the default in place, as within drawObject's save().
    ctx.lineWidth = defaultWidth;
    ctx.lineWidth = size[j];
    ctx.strokeStyle = defaultStyle;
    if (kind[j] === ERASER) {
      ctx.globalCompositeOperation = 'destination-out';
      ctx.strokeStyle = '#000';
    } else {
      ctx.strokeStyle = palette[color[j]];
    }
    const path = new Path2D();
    tracePacked(path, xy, start[j], npts[j]);
    ctx.stroke(path);
  }
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.globalCompositeOperation = 'source-over';
}

/** Whether this browser can draw in workers (module workers with OffscreenCanvas). */
export function parallelSupported() {
  return typeof Worker === 'function' && typeof OffscreenCanvas === 'function'
    && typeof OffscreenCanvas.prototype.transferToImageBitmap === 'function';
}

/**
 * A few module workers drawing ranges (raster-worker.js). A worker that
 * fails (no OffscreenCanvas 2D, a script error, no answer within
 * JOB_TIMEOUT_MS) breaks the pool: render() rejects and the renderer draws
 * on the main thread from then on.
 */
export class RasterPool {
  constructor(size) {
    this.size = size;
    this.broken = false;
    this.refs = 0;
    this.idleTimer = 0;
    this.nextId = 1;
    this.waiting = new Map(); // id -> {resolve, reject}
    this.workers = [];
    for (let i = 0; i < size; i++) {
      const w = new Worker(new URL('./raster-worker.js', import.meta.url), { type: 'module', name: `wb-raster-${i}` });
      w.onmessage = (e) => this.#answer(e.data);
      w.onerror = (e) => {
        e.preventDefault?.();
        this.#fail(new Error(`whiteboard raster worker: ${e.message || 'failed to load'}`));
      };
      w.onmessageerror = () => this.#fail(new Error('whiteboard raster worker: message error'));
      this.workers.push(w);
    }
  }

  /**
   * Draws packed ranges (packRange results, at most size of them) on
   * canvases of width × height with transform; resolves [{bitmap, ms}] in
   * range order (ms: the worker's drawing time).
   */
  render(packed, { width, height, transform }) {
    if (this.broken) return Promise.reject(new Error('whiteboard raster workers are broken'));
    const answers = packed.map((p, i) => new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.waiting.set(id, { resolve, reject });
      this.workers[i].postMessage({ id, width, height, transform, job: p.job }, p.transfer);
    }));
    let timer = 0;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('whiteboard raster workers did not answer')), JOB_TIMEOUT_MS);
    });
    return Promise.race([Promise.all(answers), timeout]).then((results) => {
      clearTimeout(timer);
      return results;
    }, (err) => {
      clearTimeout(timer);
      this.#fail(err);
      // Bitmaps of ranges that did finish are of no use now.
      answers.forEach((a) => a.then((r) => r.bitmap.close(), () => {}));
      throw err;
    });
  }

  #answer(msg) {
    const w = this.waiting.get(msg?.id);
    if (!w) {
      msg?.bitmap?.close();
      return;
    }
    this.waiting.delete(msg.id);
    if (msg.bitmap) w.resolve({ bitmap: msg.bitmap, ms: msg.ms });
    else w.reject(new Error(`whiteboard raster worker: ${msg.error ?? 'no bitmap'}`));
  }

  #fail(err) {
    if (this.broken) return;
    this.broken = true;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    this.terminate();
  }

  terminate() {
    clearTimeout(this.idleTimer);
    for (const w of this.workers) w.terminate();
    this.workers = [];
    this.broken = true;
  }
}

let shared = null;

/**
 * The page's pool (one per page, shared by the whiteboard views that come
 * and go), or null where drawing in workers is not possible or has failed.
 */
export function acquirePool() {
  // After a failure the page draws on the main thread for good.
  if (!parallelSupported() || shared?.broken) return null;
  if (!shared) {
    const cores = globalThis.navigator?.hardwareConcurrency || 2;
    try {
      shared = new RasterPool(Math.max(2, Math.min(4, cores)));
    } catch {
      return null;
    }
  }
  shared.refs++;
  clearTimeout(shared.idleTimer);
  return shared;
}

/**
 * Starts the page's pool ahead of a whiteboard view that may open (its
 * workers load while the page loads); ended after a while if none does.
 */
export function warmPool() {
  releasePool(acquirePool());
}

/** Gives a pool back; the workers end once no view has used it for a while. */
export function releasePool(pool) {
  if (!pool) return;
  pool.refs = Math.max(0, pool.refs - 1);
  if (pool.refs > 0 || pool.broken) return;
  clearTimeout(pool.idleTimer);
  pool.idleTimer = setTimeout(() => {
    if (pool.refs > 0) return;
    pool.terminate();
    if (shared === pool) shared = null;
  }, IDLE_TERMINATE_MS);
}
