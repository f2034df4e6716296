// raster-worker.js — a module worker drawing one range of the whiteboard's
// committed layer on an OffscreenCanvas (see raster.js). Each message
// {id, width, height, transform, job} is answered with {id, bitmap, ms} (the
// canvas's bitmap, transferred, and the time it took) or {id, error}.

import { drawPacked } from './raster.js';

let canvas = null;
let ctx = null;

self.onmessage = (e) => {
  const { id, width, height, transform, job } = e.data;
  const t0 = performance.now();
  try {
    if (!canvas || canvas.width !== width || canvas.height !== height) {
      canvas = new OffscreenCanvas(width, height);
      ctx = canvas.getContext('2d');
      if (!ctx) throw new Error('no 2D context on OffscreenCanvas');
    } else {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.globalCompositeOperation = 'source-over';
      ctx.clearRect(0, 0, width, height);
    }
    drawPacked(ctx, job, transform);
    const bitmap = canvas.transferToImageBitmap();
    self.postMessage({ id, bitmap, ms: performance.now() - t0 }, [bitmap]);
  } catch (err) {
    self.postMessage({ id, error: String(err?.message ?? err) });
  }
};
