// whiteboard.mjs — what a person does on a Chorus whiteboard, as Playwright
// steps, and what the tests read back: the board canvas's pixels
// ([data-testid="wb-canvas"]) and the read-only state digest the app
// exposes as window.__chorusWhiteboard.

/** Opens a whiteboard room by its route and waits for its first full render. */
export async function openBoard(page, wsId, roomId) {
  await page.goto(page.appBase + `#/w/${wsId}/r/${roomId}`);
  await waitRendered(page, roomId);
}

/** Waits until the board of roomId is loaded and drawn. */
export async function waitRendered(page, roomId) {
  await page.locator(`section.wb-app[data-room="${roomId}"][data-rendered="1"]`).waitFor({ timeout: 15000 });
}

/** The canvas's box on the page (CSS pixels). */
export async function canvasBox(page) {
  const box = await page.locator('[data-testid="wb-canvas"]').boundingBox();
  if (!box) throw new Error('no whiteboard canvas');
  return box;
}

/**
 * Draws a stroke through points given relative to the canvas (CSS px).
 * With release: false the button stays down (the stroke is in progress);
 * call release(page) to finish it.
 */
export async function drawStroke(page, points, { release = true, steps = 6 } = {}) {
  const box = await canvasBox(page);
  const [x0, y0] = points[0];
  await page.mouse.move(box.x + x0, box.y + y0);
  await page.mouse.down();
  for (const [x, y] of points.slice(1)) await page.mouse.move(box.x + x, box.y + y, { steps });
  if (release) await page.mouse.up();
}

export async function release(page) {
  await page.mouse.up();
}

/** Drags with the current tool from a to b (canvas-relative). */
export async function drag(page, [ax, ay], [bx, by], { steps = 8 } = {}) {
  const box = await canvasBox(page);
  await page.mouse.move(box.x + ax, box.y + ay);
  await page.mouse.down();
  await page.mouse.move(box.x + bx, box.y + by, { steps });
  await page.mouse.up();
}

/**
 * How many non-white pixels the board canvas has in a square of radius r
 * around canvas point (x, y) in CSS px.
 */
export function inkAt(page, x, y, r = 3) {
  return page.evaluate(([x, y, r]) => {
    const c = document.querySelector('[data-testid="wb-canvas"]');
    const k = c.width / c.getBoundingClientRect().width;
    const ctx = c.getContext('2d');
    const s = Math.max(1, Math.round(r * k));
    const d = ctx.getImageData(Math.round(x * k) - s, Math.round(y * k) - s, 2 * s + 1, 2 * s + 1).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) n++;
    return n;
  }, [x, y, r]);
}

/** Waits until (x, y) has ink (want = true) or is blank (want = false). */
export async function waitInk(page, x, y, want = true, { timeout = 5000, r = 3 } = {}) {
  await page.waitForFunction(([x, y, r, want]) => {
    const c = document.querySelector('[data-testid="wb-canvas"]');
    if (!c || !c.width) return false;
    const k = c.width / c.getBoundingClientRect().width;
    const s = Math.max(1, Math.round(r * k));
    const d = c.getContext('2d').getImageData(Math.round(x * k) - s, Math.round(y * k) - s, 2 * s + 1, 2 * s + 1).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) n++;
    return want ? n > 0 : n === 0;
  }, [x, y, r, want], { timeout, polling: 'raf' });
}

/** The board's folded state as the page has it: {seq, visible: [ids], seqs, objects, pending}. */
export function digest(page) {
  return page.evaluate(() => window.__chorusWhiteboard?.digest() ?? null);
}

/** A hash and ink count of the whole canvas's pixels. */
export function canvasHash(page) {
  return page.evaluate(() => {
    const c = document.querySelector('[data-testid="wb-canvas"]');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let hsh = 2166136261;
    let ink = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) ink++;
      hsh = Math.imul(hsh ^ d[i], 16777619);
      hsh = Math.imul(hsh ^ d[i + 1], 16777619);
      hsh = Math.imul(hsh ^ d[i + 2], 16777619);
    }
    return { hash: hsh >>> 0, ink, w: c.width, h: c.height };
  });
}

/** The canvas pixels as RGBA bytes (for comparing two pages). */
export async function canvasPixels(page) {
  const b64 = await page.evaluate(() => {
    const c = document.querySelector('[data-testid="wb-canvas"]');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let s = '';
    for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode.apply(null, d.subarray(i, i + 0x8000));
    return btoa(s);
  });
  return Buffer.from(b64, 'base64');
}

/** Number of pixels whose colour differs by more than tol in any channel. */
export function pixelDiff(a, b, tol = 48) {
  if (a.length !== b.length) return Infinity;
  let n = 0;
  for (let i = 0; i < a.length; i += 4) {
    if (Math.abs(a[i] - b[i]) > tol || Math.abs(a[i + 1] - b[i + 1]) > tol || Math.abs(a[i + 2] - b[i + 2]) > tol) n++;
  }
  return n;
}

/** Decodes a PNG (bytes) in the page: {width, height, ink, inkAt(x,y)} via a canvas. */
export function decodePng(page, bytes, probes = []) {
  return page.evaluate(async ([b64, probes]) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let ink = 0;
    let transparent = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] < 255) transparent++;
      if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) ink++;
    }
    const at = probes.map(([x, y]) => {
      const p = ctx.getImageData(x, y, 1, 1).data;
      return [p[0], p[1], p[2], p[3]];
    });
    return { width: c.width, height: c.height, ink, transparent, at };
  }, [Buffer.from(bytes).toString('base64'), probes]);
}
