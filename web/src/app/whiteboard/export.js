// export.js — the board as an SVG document (pure: built from the objects,
// importable in Node) and as a PNG (drawn on a canvas in the browser).
// Both cover the drawing's bounding box plus a margin, on white.

import { TEXT_LINE, arrowHead, objectBounds, svgPath, textFont, unionBounds } from './geometry.js';

export const EXPORT_MARGIN = 32;
/** Largest PNG side in pixels (bigger drawings are scaled down). */
export const PNG_MAX_SIDE = 8192;

// Characters XML 1.0 does not allow at all (most C0 controls, lone
// surrogates, U+FFFE/U+FFFF) are dropped, so the document stays well-formed.
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const esc = (s) => String(s).replace(NOT_XML, '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const n2 = (v) => String(Math.round(v * 100) / 100);

/** The area an export covers: the objects' bounds plus the margin, or null when empty. */
export function exportBounds(objects, margin = EXPORT_MARGIN) {
  const b = unionBounds(objects.map((o) => objectBounds(o)));
  if (!b) return null;
  return { x0: Math.floor(b.x0 - margin), y0: Math.floor(b.y0 - margin), x1: Math.ceil(b.x1 + margin), y1: Math.ceil(b.y1 + margin) };
}

/** A safe colour for an attribute (the reducer only admits #hex colours). */
function color(c) {
  return /^#[0-9a-fA-F]{3,8}$/.test(String(c)) ? c : '#000000';
}

/**
 * The SVG document of the visible objects (in z-order). Eraser strokes are
 * painted in the background colour.
 * @param {object[]} objects visible objects, ascending seq
 * @param {{background?: string, margin?: number, title?: string}} [opts]
 * @returns {string}
 */
export function toSvg(objects, { background = '#ffffff', margin = EXPORT_MARGIN, title = 'Whiteboard' } = {}) {
  const b = exportBounds(objects, margin) ?? { x0: 0, y0: 0, x1: 200, y1: 200 };
  const w = b.x1 - b.x0;
  const h = b.y1 - b.y0;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="${b.x0} ${b.y0} ${w} ${h}">`,
    `<title>${esc(title)}</title>`,
    `<rect x="${b.x0}" y="${b.y0}" width="${w}" height="${h}" fill="${color(background)}"/>`,
    '<g fill="none" stroke-linecap="round" stroke-linejoin="round">',
  ];
  for (const o of objects) out.push(objectSvg(o, background));
  out.push('</g>', '</svg>');
  return out.filter(Boolean).join('\n');
}

function objectSvg(o, background) {
  const dx = Number(o.dx) || 0;
  const dy = Number(o.dy) || 0;
  const c = color(o.color);
  const sw = n2(o.size);
  const id = `data-id="${esc(o.id)}"`;
  let el = '';
  switch (o.type) {
    case 'stroke':
      el = `<path ${id} d="${svgPath(o.points ?? [], dx, dy)}" stroke="${o.tool === 'eraser' ? color(background) : c}" stroke-width="${sw}"/>`;
      break;
    case 'rect': {
      const x = Math.min(o.x, o.x + o.w) + dx;
      const y = Math.min(o.y, o.y + o.h) + dy;
      el = `<rect ${id} x="${n2(x)}" y="${n2(y)}" width="${n2(Math.abs(o.w))}" height="${n2(Math.abs(o.h))}" stroke="${c}" stroke-width="${sw}"/>`;
      break;
    }
    case 'ellipse':
      el = `<ellipse ${id} cx="${n2(o.x + o.w / 2 + dx)}" cy="${n2(o.y + o.h / 2 + dy)}" rx="${n2(Math.abs(o.w) / 2)}" ry="${n2(Math.abs(o.h) / 2)}" stroke="${c}" stroke-width="${sw}"/>`;
      break;
    case 'line':
    case 'arrow': {
      const ax = o.x + dx;
      const ay = o.y + dy;
      const bx = ax + o.w;
      const by = ay + o.h;
      let d = `M${n2(ax)} ${n2(ay)}L${n2(bx)} ${n2(by)}`;
      if (o.type === 'arrow' && (o.w || o.h)) {
        const [l, r] = arrowHead(ax, ay, bx, by, o.size);
        d += `M${n2(l[0])} ${n2(l[1])}L${n2(bx)} ${n2(by)}L${n2(r[0])} ${n2(r[1])}`;
      }
      el = `<path ${id} d="${d}" stroke="${c}" stroke-width="${sw}"/>`;
      break;
    }
    case 'text': {
      const x = Math.min(o.x, o.x + o.w) + dx;
      const y = Math.min(o.y, o.y + o.h) + dy;
      const lines = String(o.text ?? '').split('\n');
      const spans = lines.map((l, i) => `<tspan x="${n2(x)}" y="${n2(y + i * o.size * TEXT_LINE + (o.size * (TEXT_LINE - 1)) / 2)}">${esc(l)}</tspan>`).join('');
      return `<text ${id} fill="${c}" stroke="none" font-size="${sw}" font-family="${esc(textFont(o.size).replace(/^\S+\s/, ''))}" dominant-baseline="text-before-edge" xml:space="preserve">${spans}</text>`;
    }
    default:
      return '';
  }
  if (o.type !== 'stroke' && typeof o.text === 'string' && o.text) {
    const fs = Math.max(12, Math.min(48, o.size * 4));
    el += `<text fill="${c}" stroke="none" font-size="${fs}" text-anchor="middle" dominant-baseline="middle" font-family="sans-serif" x="${n2(o.x + o.w / 2 + dx)}" y="${n2(o.y + o.h / 2 + dy)}">${esc(o.text)}</text>`;
  }
  return el;
}

/**
 * Draws the objects into a new canvas (white background, the bounding box
 * plus a margin) and resolves a PNG Blob. Browser only.
 * @param {object[]} objects visible objects in z-order
 * @param {(ctx: CanvasRenderingContext2D, o: object) => void} draw draws one object in board coordinates
 * @returns {Promise<Blob|null>} null when the board is empty or the browser could not encode it
 */
export async function toPngBlob(objects, draw, { background = '#ffffff', margin = EXPORT_MARGIN, pixelRatio = 1 } = {}) {
  const b = exportBounds(objects, margin);
  if (!b) return null;
  const bw = b.x1 - b.x0;
  const bh = b.y1 - b.y0;
  const scale = Math.min(pixelRatio, PNG_MAX_SIDE / bw, PNG_MAX_SIDE / bh);
  const w = Math.max(1, Math.round(bw * scale));
  const h = Math.max(1, Math.round(bh * scale));
  // Erasers cut through the drawing layer only; the white goes under it.
  const layer = document.createElement('canvas');
  layer.width = w;
  layer.height = h;
  const lctx = layer.getContext('2d');
  lctx.setTransform(scale, 0, 0, scale, -b.x0 * scale, -b.y0 * scale);
  for (const o of objects) draw(lctx, o);
  const out = document.createElement('canvas');
  out.width = w;
  out.height = h;
  const ctx = out.getContext('2d');
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, w, h);
  ctx.drawImage(layer, 0, 0);
  return new Promise((resolve) => out.toBlob((blob) => resolve(blob), 'image/png'));
}

/** Saves a Blob as a file through a temporary link. Browser only. */
export function downloadBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A file name from a board name and the date. */
export function exportName(name, ext, now = new Date()) {
  const base = String(name || 'whiteboard').trim().replace(/[^\p{L}\p{N}._ -]+/gu, '').replace(/\s+/g, '-').slice(0, 60) || 'whiteboard';
  const d = now.toISOString().slice(0, 10);
  return `${base}-${d}.${ext}`;
}
