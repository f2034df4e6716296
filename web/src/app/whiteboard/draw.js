// draw.js — drawing whiteboard objects on a 2D canvas context, shared by the
// live view (render.js) and the PNG export. A stroke's Path2D is built once
// per object (id and seq) and reused at every redraw; the move (dx, dy) is
// applied as a translation, so moving never rebuilds a path.

import { TEXT_LINE, arrowHead, objectBounds, textFont, tracePath } from './geometry.js';

/** Per-object cache of Path2D and bounding box, keyed by object id. */
export class ObjectCache {
  constructor() {
    this.map = new Map();
  }

  #entry(o) {
    let e = this.map.get(o.id);
    if (!e || e.seq !== o.seq || e.obj !== o) {
      const keep = e && e.seq === o.seq && e.points === o.points ? e : null;
      e = {
        obj: o,
        seq: o.seq,
        points: o.points,
        path: keep ? keep.path : null,
        local: keep ? keep.local : null, // bounds without the move
      };
      this.map.set(o.id, e);
    }
    return e;
  }

  /** The stroke's Path2D (object-local coordinates). */
  path(o) {
    const e = this.#entry(o);
    if (!e.path) {
      e.path = new Path2D();
      tracePath(e.path, o.points ?? []);
    }
    return e.path;
  }

  /** The object's bounding box in board coordinates (move included). */
  bounds(o) {
    const e = this.#entry(o);
    if (!e.local) e.local = objectBounds(o, false);
    const dx = Number(o.dx) || 0;
    const dy = Number(o.dy) || 0;
    const l = e.local;
    return dx === 0 && dy === 0 ? l : { x0: l.x0 + dx, y0: l.y0 + dy, x1: l.x1 + dx, y1: l.y1 + dy };
  }

  /** Forgets objects that are no longer in `alive` (a Set of ids or a Map/object with has()). */
  prune(isAlive) {
    for (const id of this.map.keys()) if (!isAlive(id)) this.map.delete(id);
  }

  clear() {
    this.map.clear();
  }
}

/**
 * Draws one object. ctx's transform maps board coordinates; `opts.eraseWith`
 * draws eraser strokes with that colour instead of erasing (for layers with
 * nothing under them).
 */
export function drawObject(ctx, o, cache, { eraseWith = null, offsetX = 0, offsetY = 0, alpha = 1 } = {}) {
  const dx = (Number(o.dx) || 0) + offsetX;
  const dy = (Number(o.dy) || 0) + offsetY;
  ctx.save();
  if (dx || dy) ctx.translate(dx, dy);
  if (alpha !== 1) ctx.globalAlpha = alpha;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.lineWidth = o.size;
  ctx.strokeStyle = o.color;
  switch (o.type) {
    case 'stroke':
      if (o.tool === 'eraser') {
        if (eraseWith) ctx.strokeStyle = eraseWith;
        else {
          ctx.globalCompositeOperation = 'destination-out';
          ctx.strokeStyle = '#000';
        }
      }
      ctx.stroke(cache ? cache.path(o) : pathOf(o.points));
      break;
    case 'rect':
      ctx.strokeRect(o.x, o.y, o.w, o.h);
      break;
    case 'ellipse':
      ctx.beginPath();
      ctx.ellipse(o.x + o.w / 2, o.y + o.h / 2, Math.abs(o.w) / 2, Math.abs(o.h) / 2, 0, 0, Math.PI * 2);
      ctx.stroke();
      break;
    case 'line':
    case 'arrow': {
      const ax = o.x;
      const ay = o.y;
      const bx = o.x + o.w;
      const by = o.y + o.h;
      ctx.beginPath();
      ctx.moveTo(ax, ay);
      ctx.lineTo(bx, by);
      ctx.stroke();
      if (o.type === 'arrow' && (o.w || o.h)) {
        const [l, r] = arrowHead(ax, ay, bx, by, o.size);
        ctx.beginPath();
        ctx.moveTo(l[0], l[1]);
        ctx.lineTo(bx, by);
        ctx.lineTo(r[0], r[1]);
        ctx.stroke();
      }
      break;
    }
    case 'text':
      drawText(ctx, o);
      break;
    default:
  }
  if (o.type !== 'text' && typeof o.text === 'string' && o.text) drawLabel(ctx, o);
  ctx.restore();
}

function pathOf(points) {
  const p = new Path2D();
  tracePath(p, points ?? []);
  return p;
}

function drawText(ctx, o) {
  ctx.fillStyle = o.color;
  ctx.font = textFont(o.size);
  ctx.textBaseline = 'top';
  const lines = String(o.text ?? '').split('\n');
  const x = Math.min(o.x, o.x + o.w);
  const y = Math.min(o.y, o.y + o.h);
  lines.forEach((line, i) => ctx.fillText(line, x, y + i * o.size * TEXT_LINE + o.size * (TEXT_LINE - 1) / 2));
}

/** A shape's optional label, centred in its box. */
function drawLabel(ctx, o) {
  const fs = Math.max(12, Math.min(48, o.size * 4));
  ctx.fillStyle = o.color;
  ctx.font = textFont(fs);
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(o.text, o.x + o.w / 2, o.y + o.h / 2);
}

/** Draws the in-progress stroke points (a live stroke or one being drawn). */
export function drawLiveStroke(ctx, s, { eraseWith = '#ffffff' } = {}) {
  if (!s.points.length) return;
  ctx.save();
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
  ctx.lineWidth = s.size;
  ctx.strokeStyle = s.tool === 'eraser' ? eraseWith : s.color;
  ctx.beginPath();
  tracePath(ctx, s.points);
  ctx.stroke();
  ctx.restore();
}

/** Measures a text's box {w, h} for a font size (needs a 2D context). */
export function measureText(ctx, text, size) {
  ctx.save();
  ctx.font = textFont(size);
  const lines = String(text).split('\n');
  let w = 0;
  for (const l of lines) w = Math.max(w, ctx.measureText(l).width);
  ctx.restore();
  return { w: Math.ceil(w) + 2, h: Math.ceil(lines.length * size * TEXT_LINE) };
}
