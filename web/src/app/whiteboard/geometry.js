// geometry.js — pure whiteboard geometry: stroke preparation (rounding,
// simplification to the reducer's point limit), smooth path tracing shared
// by the canvas and the SVG export, bounding boxes and hit testing.
//
// No DOM here: the module is imported by Node unit tests as is.

/** Most points in one stroke.add (docs/reducers.md). */
export const MAX_POINTS = 2000;
/** Largest coordinate the reducer accepts. */
export const COORD_MAX = 10000000;

/**
 * Rounds to a quarter of a board unit: precise enough at any zoom, and
 * exactly representable in binary, so every JSON writer prints it short
 * ("12.25", never "12.300000000000001").
 */
export function roundCoord(v) {
  const r = Math.round(v * 4) / 4;
  return Object.is(r, -0) ? 0 : r;
}

function clampCoord(v) {
  return Math.max(-COORD_MAX, Math.min(COORD_MAX, v));
}

/** Squared distance from p to the segment a-b. */
export function segDist2(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
  t = Math.max(0, Math.min(1, t));
  const x = ax + t * dx - px;
  const y = ay + t * dy - py;
  return x * x + y * y;
}

/**
 * Ramer–Douglas–Peucker simplification (iterative): keeps the points that
 * deviate more than `tolerance` from the simplified line.
 * @param {number[][]} pts
 * @param {number} tolerance
 * @returns {number[][]}
 */
export function simplify(pts, tolerance) {
  const n = pts.length;
  if (n <= 2 || tolerance <= 0) return pts.slice();
  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[n - 1] = 1;
  const tol2 = tolerance * tolerance;
  const stack = [[0, n - 1]];
  while (stack.length) {
    const [a, b] = stack.pop();
    let best = -1;
    let bestD = tol2;
    const [ax, ay] = pts[a];
    const [bx, by] = pts[b];
    for (let i = a + 1; i < b; i++) {
      const d = segDist2(pts[i][0], pts[i][1], ax, ay, bx, by);
      if (d > bestD) {
        bestD = d;
        best = i;
      }
    }
    if (best >= 0) {
      keep[best] = 1;
      stack.push([a, best], [best, b]);
    }
  }
  const out = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push(pts[i]);
  return out;
}

/**
 * The points of a finished stroke as published: rounded to 0.25, within the
 * coordinate range, without consecutive duplicates, simplified by
 * `tolerance` board units and, if still too long, by growing tolerances
 * until at most `max` points remain.
 * @param {number[][]} raw
 * @param {{tolerance?: number, max?: number}} [opts]
 * @returns {number[][]}
 */
export function prepareStroke(raw, { tolerance = 0.35, max = MAX_POINTS } = {}) {
  const pts = [];
  for (const p of raw) {
    if (!Array.isArray(p) || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) continue;
    const q = [roundCoord(clampCoord(p[0])), roundCoord(clampCoord(p[1]))];
    const last = pts[pts.length - 1];
    if (last && last[0] === q[0] && last[1] === q[1]) continue;
    pts.push(q);
  }
  if (pts.length === 0) return pts;
  let out = simplify(pts, tolerance);
  let tol = Math.max(tolerance, 0.1);
  while (out.length > max) {
    tol *= 1.6;
    out = simplify(pts, tol);
  }
  return out;
}

/** Segments at least this long (board units) are drawn as curves. */
export const CURVE_MIN = 16;
const CURVE_MIN2 = CURVE_MIN * CURVE_MIN;

/**
 * Traces a smooth path through the points on anything with moveTo, lineTo
 * and bezierCurveTo (a Path2D, a canvas context, or svgPath()'s builder):
 * a Catmull-Rom spline through every point for segments longer than
 * CURVE_MIN board units; shorter ones are already smooth at any sensible
 * zoom and stay straight (cheaper to rasterize: a 10,000-stroke board
 * draws ~20% faster). One point traces a tiny segment (drawn as a dot with
 * round caps).
 * @param {{moveTo: Function, lineTo: Function, bezierCurveTo: Function}} p
 * @param {number[][]} pts
 */
export function tracePath(p, pts) {
  const n = pts.length;
  if (n === 0) return;
  const [x0, y0] = pts[0];
  p.moveTo(x0, y0);
  if (n === 1) {
    p.lineTo(x0 + 0.01, y0);
    return;
  }
  if (n === 2) {
    p.lineTo(pts[1][0], pts[1][1]);
    return;
  }
  for (let i = 0; i < n - 1; i++) {
    const b = pts[i];
    const c = pts[i + 1];
    if ((c[0] - b[0]) ** 2 + (c[1] - b[1]) ** 2 < CURVE_MIN2) {
      p.lineTo(c[0], c[1]);
      continue;
    }
    const a = pts[i > 0 ? i - 1 : 0];
    const d = pts[i + 2 < n ? i + 2 : n - 1];
    p.bezierCurveTo(
      b[0] + (c[0] - a[0]) / 6, b[1] + (c[1] - a[1]) / 6,
      c[0] - (d[0] - b[0]) / 6, c[1] - (d[1] - b[1]) / 6,
      c[0], c[1],
    );
  }
}

/**
 * tracePath over packed coordinates: the n points starting at point index
 * `start` of xy (x0, y0, x1, y1, ...). Same arithmetic in the same order,
 * so the same path (the parallel renderer sends strokes this way).
 * @param {{moveTo: Function, lineTo: Function, bezierCurveTo: Function}} p
 * @param {Float64Array|number[]} xy
 * @param {number} start
 * @param {number} n
 */
export function tracePacked(p, xy, start, n) {
  if (n === 0) return;
  const o = 2 * start;
  const x0 = xy[o];
  const y0 = xy[o + 1];
  p.moveTo(x0, y0);
  if (n === 1) {
    p.lineTo(x0 + 0.01, y0);
    return;
  }
  if (n === 2) {
    p.lineTo(xy[o + 2], xy[o + 3]);
    return;
  }
  for (let i = 0; i < n - 1; i++) {
    const b = o + 2 * i;
    const bx = xy[b];
    const by = xy[b + 1];
    const cx = xy[b + 2];
    const cy = xy[b + 3];
    if ((cx - bx) ** 2 + (cy - by) ** 2 < CURVE_MIN2) {
      p.lineTo(cx, cy);
      continue;
    }
    const a = o + 2 * (i > 0 ? i - 1 : 0);
    const d = o + 2 * (i + 2 < n ? i + 2 : n - 1);
    p.bezierCurveTo(
      bx + (cx - xy[a]) / 6, by + (cy - xy[a + 1]) / 6,
      cx - (xy[d] - bx) / 6, cy - (xy[d + 1] - by) / 6,
      cx, cy,
    );
  }
}

const fmt = (v) => String(Math.round(v * 100) / 100);

/** The SVG path data of a smooth stroke through pts (offset by dx, dy). */
export function svgPath(pts, dx = 0, dy = 0) {
  const parts = [];
  tracePath({
    moveTo: (x, y) => parts.push(`M${fmt(x + dx)} ${fmt(y + dy)}`),
    lineTo: (x, y) => parts.push(`L${fmt(x + dx)} ${fmt(y + dy)}`),
    bezierCurveTo: (ax, ay, bx, by, x, y) => parts.push(`C${fmt(ax + dx)} ${fmt(ay + dy)} ${fmt(bx + dx)} ${fmt(by + dy)} ${fmt(x + dx)} ${fmt(y + dy)}`),
  }, pts);
  return parts.join('');
}

/** Line height of text objects, as a multiple of the font size. */
export const TEXT_LINE = 1.25;

/** The font of a text object of a given size. */
export function textFont(size) {
  return `${size}px ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif`;
}

/**
 * The object's bounding box in board coordinates, its move (dx, dy) and
 * half its line width included: {x0, y0, x1, y1}. With move = false, as if
 * it had not been moved.
 * @param {object} o a whiteboard object (reducer state shape)
 * @param {boolean} [move]
 */
export function objectBounds(o, move = true) {
  const dx = move ? Number(o.dx) || 0 : 0;
  const dy = move ? Number(o.dy) || 0 : 0;
  const half = (Number(o.size) || 1) / 2;
  if (o.type === 'stroke') {
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -Infinity;
    let y1 = -Infinity;
    const pts = o.points ?? [];
    for (let i = 0; i < pts.length; i++) {
      const x = pts[i][0];
      const y = pts[i][1];
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    if (x0 === Infinity) return { x0: dx, y0: dy, x1: dx, y1: dy };
    return { x0: x0 + dx - half, y0: y0 + dy - half, x1: x1 + dx + half, y1: y1 + dy + half };
  }
  const ax = o.x + dx;
  const ay = o.y + dy;
  const bx = ax + o.w;
  const by = ay + o.h;
  if (o.type === 'text') {
    return { x0: Math.min(ax, bx), y0: Math.min(ay, by), x1: Math.max(ax, bx), y1: Math.max(ay, by) };
  }
  // An arrowhead reaches a little beyond the line's end.
  const pad = o.type === 'arrow' ? half + arrowHeadLength(o.size) : half;
  return { x0: Math.min(ax, bx) - pad, y0: Math.min(ay, by) - pad, x1: Math.max(ax, bx) + pad, y1: Math.max(ay, by) + pad };
}

/** Length of an arrowhead for a line width. */
export function arrowHeadLength(size) {
  return Math.max(10, size * 3.5);
}

/** The two back corners of an arrowhead at (bx, by) coming from (ax, ay). */
export function arrowHead(ax, ay, bx, by, size) {
  const len = arrowHeadLength(size);
  const ang = Math.atan2(by - ay, bx - ax);
  const spread = Math.PI / 7;
  return [
    [bx - len * Math.cos(ang - spread), by - len * Math.sin(ang - spread)],
    [bx - len * Math.cos(ang + spread), by - len * Math.sin(ang + spread)],
  ];
}

/** The union of boxes (null when there are none). */
export function unionBounds(boxes) {
  let b = null;
  for (const r of boxes) {
    if (!r) continue;
    if (!b) b = { ...r };
    else {
      b.x0 = Math.min(b.x0, r.x0);
      b.y0 = Math.min(b.y0, r.y0);
      b.x1 = Math.max(b.x1, r.x1);
      b.y1 = Math.max(b.y1, r.y1);
    }
  }
  return b;
}

/** True if boxes a and b overlap. */
export function intersects(a, b) {
  return a.x0 <= b.x1 && a.x1 >= b.x0 && a.y0 <= b.y1 && a.y1 >= b.y0;
}

/** True if box a lies inside box b. */
export function contains(b, a) {
  return a.x0 >= b.x0 && a.x1 <= b.x1 && a.y0 >= b.y0 && a.y1 <= b.y1;
}

/** A box from two corners in any order. */
export function boxFrom(ax, ay, bx, by) {
  return { x0: Math.min(ax, bx), y0: Math.min(ay, by), x1: Math.max(ax, bx), y1: Math.max(ay, by) };
}

/**
 * True if board point (px, py) touches object o within tol board units:
 * strokes, lines and the outlines of rectangles and ellipses by their
 * line, text anywhere in its box.
 */
export function hitObject(o, px, py, tol, bounds = objectBounds(o)) {
  if (px < bounds.x0 - tol || px > bounds.x1 + tol || py < bounds.y0 - tol || py > bounds.y1 + tol) return false;
  const dx = Number(o.dx) || 0;
  const dy = Number(o.dy) || 0;
  const x = px - dx;
  const y = py - dy;
  const reach = (Number(o.size) || 1) / 2 + tol;
  const r2 = reach * reach;
  switch (o.type) {
    case 'stroke': {
      const pts = o.points ?? [];
      if (pts.length === 1) return (pts[0][0] - x) ** 2 + (pts[0][1] - y) ** 2 <= r2;
      for (let i = 1; i < pts.length; i++) {
        if (segDist2(x, y, pts[i - 1][0], pts[i - 1][1], pts[i][0], pts[i][1]) <= r2) return true;
      }
      return false;
    }
    case 'line':
    case 'arrow':
      return segDist2(x, y, o.x, o.y, o.x + o.w, o.y + o.h) <= r2;
    case 'rect': {
      const b = boxFrom(o.x, o.y, o.x + o.w, o.y + o.h);
      const inOuter = x >= b.x0 - reach && x <= b.x1 + reach && y >= b.y0 - reach && y <= b.y1 + reach;
      const inInner = x > b.x0 + reach && x < b.x1 - reach && y > b.y0 + reach && y < b.y1 - reach;
      return inOuter && !inInner;
    }
    case 'ellipse': {
      const cx = o.x + o.w / 2;
      const cy = o.y + o.h / 2;
      const rx = Math.abs(o.w) / 2;
      const ry = Math.abs(o.h) / 2;
      if (rx < 1e-9 || ry < 1e-9) return segDist2(x, y, o.x, o.y, o.x + o.w, o.y + o.h) <= r2;
      // Distance to the outline, approximated along the ray from the centre.
      const ang = Math.atan2((y - cy) / ry, (x - cx) / rx);
      const ex = cx + rx * Math.cos(ang);
      const ey = cy + ry * Math.sin(ang);
      return (ex - x) ** 2 + (ey - y) ** 2 <= r2;
    }
    case 'text':
    default:
      return true; // inside the bounds (checked above)
  }
}

/**
 * The payload that re-adds object o as a new object with id newId, its move
 * folded into its coordinates (used to restore a version).
 * @returns {{kind: string, payload: object}|null}
 */
export function readdPayload(o, newId) {
  const dx = Number(o.dx) || 0;
  const dy = Number(o.dy) || 0;
  const c = (v) => clampCoord(v);
  if (o.type === 'stroke') {
    const payload = {
      id: newId, points: (o.points ?? []).map(([x, y]) => [c(x + dx), c(y + dy)]), color: o.color, size: o.size,
    };
    if (o.tool === 'eraser') payload.tool = 'eraser';
    return { kind: 'stroke.add', payload };
  }
  if (!['rect', 'ellipse', 'line', 'arrow', 'text'].includes(o.type)) return null;
  const payload = { id: newId, shape: o.type, x: c(o.x + dx), y: c(o.y + dy), w: o.w, h: o.h, color: o.color, size: o.size };
  if (typeof o.text === 'string') payload.text = o.text;
  return { kind: 'shape.add', payload };
}

/**
 * A whiteboard object as the reducer would add it from a payload (used to
 * draw one's own publishes before their events arrive).
 */
export function objectFromPayload(kind, p, author) {
  const base = { id: p.id, author, seq: Infinity, ts: Date.now(), color: p.color, size: p.size, dx: 0, dy: 0, hidden: false, hidden_by: [] };
  if (kind === 'stroke.add') return { ...base, type: 'stroke', points: p.points, tool: p.tool ?? 'pen' };
  const o = { ...base, type: p.shape, x: p.x, y: p.y, w: p.w, h: p.h };
  if (p.text !== undefined) o.text = p.text;
  return o;
}

/** Zooms view {scale, tx, ty} by factor around screen point (sx, sy). */
export function zoomAt(view, factor, sx, sy, min = 0.05, max = 16) {
  const scale = Math.max(min, Math.min(max, view.scale * factor));
  const f = scale / view.scale;
  return { scale, tx: sx - (sx - view.tx) * f, ty: sy - (sy - view.ty) * f };
}

/** The view that fits box b into a w×h screen with a margin (scale at most maxScale). */
export function fitView(b, w, h, { margin = 40, maxScale = 1, minScale = 0.05 } = {}) {
  const bw = Math.max(1, b.x1 - b.x0);
  const bh = Math.max(1, b.y1 - b.y0);
  const scale = Math.max(minScale, Math.min(maxScale, (w - 2 * margin) / bw, (h - 2 * margin) / bh));
  return { scale, tx: w / 2 - ((b.x0 + b.x1) / 2) * scale, ty: h / 2 - ((b.y0 + b.y1) / 2) * scale };
}
