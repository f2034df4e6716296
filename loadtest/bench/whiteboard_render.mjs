// whiteboard_render.mjs — the whiteboard under load, on a real cluster
// (redis, PostgreSQL, the worker, two gateways, nginx serving web/; set up
// by browser_bench.mjs): run through whiteboard_render.sh, which builds and
// passes the binaries.
//
// 1. Fills a whiteboard with WB_STROKES strokes (default 10,000: the
//    reducer's object limit), published as stroke.add events over one
//    WebSocket with the real client (web/src/lib/client.js, pipelined; the
//    gateways run with a higher --publish-rate for this). Every stroke lies
//    inside the first screen, so a load draws all of them.
// 2. Measures in headless Chromium the time from navigation to the board
//    fully rendered (the app's performance.mark('wb-rendered'), set after
//    the first full render of the snapshot's objects), WB_RUNS times after a
//    warm-up load; prints the median and the maximum.
// 3. Frame time while WB_DRAWERS (default 5) other users draw: Node
//    clients, alternating between the two gateways, each streams a stroke
//    in progress as ephemeral stroke.live messages at 30 Hz (a few new
//    points each), commits it as stroke.add at pen-up, moves its cursor
//    at 20 Hz between strokes — at human rates (a stroke about every
//    1.5 s). The page's own user draws too (Playwright mouse). The page
//    records every requestAnimationFrame interval and long tasks for
//    WB_SECONDS (default 15) seconds; prints frame time p50/p99/max,
//    dropped frames (intervals beyond one 60 Hz frame, counted in frames)
//    and long tasks.
//
// Figures only; not a test. Environment: CHORUS_GATEWAY_BIN,
// CHORUS_WORKER_BIN (required), WB_STROKES, WB_POINTS (raw pointer samples
// per stroke before the app's simplification, default 120), WB_RUNS (5), WB_DRAWERS (5), WB_SECONDS (15), WB_JSON
// (write the figures there), WB_PARALLEL (off: the app draws on the main
// thread only; always), WB_DEBUG (request timings and renderer counters of
// each load).

import { fmt, importRepo, log, pct, runBench, sleep } from './browser_bench.mjs';

const { prepareStroke } = await importRepo('web', 'src', 'app', 'whiteboard', 'geometry.js');

const STROKES = Number(process.env.WB_STROKES ?? 10000);
const POINTS = Number(process.env.WB_POINTS ?? 120);
const RUNS = Number(process.env.WB_RUNS ?? 5);
const DRAWERS = Number(process.env.WB_DRAWERS ?? 5);
const SECONDS = Number(process.env.WB_SECONDS ?? 15);
const PARALLEL = process.env.WB_PARALLEL ?? ''; // the app's full renders in workers: always, off (default: the app decides)
const COLORS = ['#1b1c22', '#e03131', '#f08c00', '#2f9e44', '#1971c2', '#9c36b5'];

let rnd = 20260101;
const rand = () => {
  rnd = (rnd * 1103515245 + 12345) % 2147483648;
  return rnd / 2147483648;
};

/**
 * A wobbly hand-drawn stroke: n raw pointer samples (a mouse or pen at
 * 60-120 Hz, 1.5-4 px apart) starting near (x, y), within w×h.
 */
function strokePoints(n, x, y, w, h) {
  const pts = [];
  let ang = rand() * Math.PI * 2;
  let turn = (rand() - 0.5) * 0.1;
  const step = 1.5 + rand() * 2.5;
  for (let i = 0; i < n; i++) {
    pts.push([x + (rand() - 0.5) * 0.6, y + (rand() - 0.5) * 0.6]);
    turn = Math.max(-0.15, Math.min(0.15, turn + (rand() - 0.5) * 0.04));
    ang += turn;
    x = Math.max(4, Math.min(w - 4, x + Math.cos(ang) * step));
    y = Math.max(4, Math.min(h - 4, y + Math.sin(ang) * step));
  }
  return pts;
}

/** One simulated user drawing at human rates until `until` (performance.now()). */
async function drawer(handle, i, until, stats) {
  const W = 1000;
  const H = 620;
  let n = 0;
  while (performance.now() < until) {
    // Move the cursor a little, then draw a stroke for ~1 s.
    for (let k = 0; k < 6 && performance.now() < until; k++) {
      if (handle.publishEphemeral('cursor', { x: Math.round(rand() * W), y: Math.round(rand() * H) })) stats.cursor++;
      await sleep(50);
    }
    const id = `d${i}x${n++}${Date.now().toString(36)}`;
    const pts = prepareStroke(strokePoints(60 + Math.floor(rand() * 40), 50 + rand() * (W - 100), 50 + rand() * (H - 100), W, H));
    const color = COLORS[(i + n) % COLORS.length];
    const size = 2 + (n % 4);
    let sent = 0;
    while (sent < pts.length && performance.now() < until) {
      const chunk = pts.slice(sent, sent + 3);
      if (handle.publishEphemeral('stroke.live', { id, color, size, tool: 'pen', from: sent, points: chunk })) {
        sent += chunk.length;
        stats.live++;
      }
      await sleep(33);
    }
    handle.publish('stroke.add', { id, points: pts.slice(0, Math.max(1, sent)), color, size }).then(() => stats.commits++, () => stats.failed++);
    handle.publishEphemeral('stroke.end', { id });
    await sleep(300 + rand() * 400);
  }
}

runBench({
  name: 'whiteboard_render',
  banner: `${STROKES} strokes x ${POINTS} points, ${RUNS} load runs, ${DRAWERS} drawers for ${SECONDS} s`,
  publishRate: 20000,
  out: { strokes: STROKES, points: POINTS, drawers: DRAWERS, seconds: SECONDS },
  jsonEnv: 'WB_JSON',
}, async (bench) => {
  const { cluster, out } = bench;
  await bench.createRoom('wbbench', 'whiteboard', 'Big whiteboard');
  const board = bench.room.id;

  // ---------------------------------------------------------------- 10,000 strokes
  const { c: writer, hd: wh } = bench.join(0);
  await wh.ready;
  const tc = Date.now();
  const pubs = [];
  let bytes = 0;
  let published = 0;
  for (let i = 0; i < STROKES; i++) {
    // What the app publishes for such a stroke (geometry.js prepareStroke).
    const pts = prepareStroke(strokePoints(POINTS, rand() * 1000, rand() * 620, 1000, 620));
    published += pts.length;
    const payload = {
      id: `s${String(i).padStart(5, '0')}`,
      points: pts,
      color: COLORS[i % COLORS.length],
      size: 1 + (i % 6),
    };
    bytes += JSON.stringify(payload).length;
    pubs.push(wh.publish('stroke.add', payload));
    if (pubs.length % 2000 === 0) await Promise.all(pubs.slice(-2000));
  }
  const acks = await Promise.all(pubs);
  const createMs = Date.now() - tc;
  const lastSeq = Math.max(...acks.map((a) => a.seq));
  out.points_per_stroke = published / STROKES;
  log(`published ${STROKES} strokes (${POINTS} raw samples each, ${fmt(published / STROKES)} points after the app's simplification; ${(bytes / 1e6).toFixed(1)} MB of payload) over WebSocket in ${createMs} ms (${fmt(STROKES / (createMs / 1000))}/s), last seq ${lastSeq}`);
  out.create_ms = createMs;
  out.payload_bytes = bytes;
  await bench.waitSnapshot(lastSeq, 'the snapshot to include every stroke', { timeoutMs: 120000, intervalMs: 500 });

  if (process.env.WB_DEBUG) {
    const raw = await cluster.api('GET', `/rooms/${board}/snapshot`, { token: bench.token });
    log(`# snapshot: ${raw.body.length} bytes: ${raw.body.slice(0, 700)}`);
  }

  // ---------------------------------------------------------------- load time
  const { page, url } = await bench.signIn();
  if (PARALLEL) await page.addInitScript((v) => localStorage.setItem('chorus.wb.parallel', v), PARALLEL);
  const loads = [];
  const loadRuns = [];
  for (let r = 0; r < RUNS + 1; r++) {
    await page.goto('about:blank');
    if (process.env.WB_DEBUG) await page.addInitScript(() => { globalThis.__wbTrace = true; });
    await page.goto(url);
    await page.locator(`section.wb-app[data-room="${board}"][data-rendered="1"]`).waitFor({ timeout: 60000 });
    const m = await page.evaluate(() => ({
      mark: performance.getEntriesByName('wb-rendered')[0]?.startTime,
      steps: ['wb-open', 'wb-joined', 'wb-snapshot', 'wb-model', 'wb-loaded'].map((n) => performance.getEntriesByName(n)[0]?.startTime ?? NaN),
      frames: performance.getEntriesByName('wb-frame').map((e) => Math.round(e.startTime)),
      res: performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/') || e.name.endsWith('main.js') || e.name.includes('worker')).map((e) => `${e.name.replace(/^.*\/(api\/v1\/)?/, '')}:${Math.round(e.startTime)}-${Math.round(e.responseEnd)}`),
      nav: (() => { const n = performance.getEntriesByType('navigation')[0]; return [Math.round(n.responseEnd), Math.round(n.domInteractive), Math.round(n.domContentLoadedEventEnd)]; })(),
      snapshotRes: performance.getEntriesByType('resource').filter((e) => e.name.includes('/snapshot')).map((e) => [e.requestStart, e.responseStart, e.responseEnd, e.transferSize]),
      visible: window.__chorusWhiteboard.digest().visible.length,
      stats: window.__chorusWhiteboard.stats(),
    }));
    if (m.visible !== STROKES) throw new Error(`the page shows ${m.visible} objects, expected ${STROKES}`);
    if (r > 0) loads.push(m.mark); // the first load warms the HTTP cache
    const st = m.stats;
    const how = st.parallelRenders ? ` in ${st.ranges} workers: ${fmt(st.sentMs)} ms on the main thread, then ${st.rangeMs.join(' / ')} ms` : ' on the main thread';
    log(`  load run ${r}${r === 0 ? ' (warm-up)' : ''}: ${fmt(m.mark)} ms to wb-rendered (view opened at ${fmt(m.steps[0])}, snapshot in at ${fmt(m.steps[2])}, joined ${fmt(m.steps[1])}; ${st.drawn} objects drawn, full render ${fmt(st.lastFullMs)} ms${how})`);
    if (r > 0) loadRuns.push({ ms: m.mark, view_open: m.steps[0], snapshot: m.steps[2], full_ms: st.lastFullMs, ranges: st.ranges, range_ms: st.rangeMs });
    if (process.env.WB_DEBUG) log(`    snapshot request ${JSON.stringify(m.snapshotRes)} steps ${JSON.stringify(m.steps)} frames ${JSON.stringify(m.frames)} navigation ${JSON.stringify(m.nav)} requests ${JSON.stringify(m.res)} stats ${JSON.stringify(m.stats)}`);
  }
  const ls = [...loads].sort((a, b) => a - b);
  out.load_ms = { p50: pct(ls, 50), max: ls[ls.length - 1], min: ls[0], runs: ls };
  out.load_runs = loadRuns;
  log(`load ${STROKES} strokes: p50 ${fmt(out.load_ms.p50)} ms from navigation to wb-rendered (min ${fmt(ls[0])}, max ${fmt(out.load_ms.max)}, ${RUNS} runs)`);

  // ---------------------------------------------------------------- frame time while others draw
  // A full board (10,000 visible objects) ignores new strokes: delete a
  // few hundred first so that the strokes drawn below are committed.
  const dels = [];
  for (let i = 0; i < 300; i++) dels.push(wh.publish('object.delete', { id: `s${String(i * 31).padStart(5, '0')}` }));
  const delSeq = Math.max(...(await Promise.all(dels)).map((a) => a.seq));
  await page.waitForFunction((s) => window.__chorusWhiteboard.digest().seq >= s, delSeq, { timeout: 30000 });
  writer.close();
  const drawers = [];
  for (let i = 0; i < DRAWERS; i++) {
    drawers.push(bench.join(i + 1));
  }
  await Promise.all(drawers.map((d) => d.hd.ready));
  await sleep(500);
  await page.evaluate(() => {
    const rec = { intervals: [], long: [], stop: false };
    window.__frames = rec;
    let last = performance.now();
    const loop = (t) => {
      rec.intervals.push(t - last);
      last = t;
      if (!rec.stop) requestAnimationFrame(loop);
    };
    requestAnimationFrame((t) => { last = t; requestAnimationFrame(loop); });
    try {
      const po = new PerformanceObserver((list) => { for (const e of list.getEntries()) rec.long.push(e.duration); });
      po.observe({ type: 'longtask', buffered: false });
      rec.po = po;
    } catch { /* no long task API */ }
    rec.stats0 = window.__chorusWhiteboard.stats();
  });
  const stats = { live: 0, cursor: 0, commits: 0, failed: 0 };
  const until = performance.now() + SECONDS * 1000;
  const box = await page.locator('[data-testid="wb-canvas"]').boundingBox();
  // The page's own user draws too.
  const self = (async () => {
    let k = 0;
    while (performance.now() < until - 300) {
      const pts = strokePoints(60, 100 + rand() * 800, 100 + rand() * 400, 1000, 620).filter((_, j) => j % 3 === 0);
      await page.mouse.move(box.x + pts[0][0], box.y + pts[0][1]);
      await page.mouse.down();
      for (const [x, y] of pts.slice(1)) {
        await page.mouse.move(box.x + x, box.y + y);
        await sleep(16);
      }
      await page.mouse.up();
      k++;
      await sleep(400);
    }
    return k;
  })();
  const ownStrokes = (await Promise.all([self, ...drawers.map((d, i) => drawer(d.hd, i, until, stats))]))[0];
  const rec = await page.evaluate(() => {
    const r = window.__frames;
    r.stop = true;
    r.po?.disconnect();
    const s = window.__chorusWhiteboard.stats();
    return { intervals: r.intervals, long: r.long, stats0: r.stats0, stats1: s, visible: window.__chorusWhiteboard.digest().visible.length };
  });
  const iv = rec.intervals.slice(2).sort((a, b) => a - b);
  const frame = 1000 / 60;
  let dropped = 0;
  for (const d of rec.intervals.slice(2)) dropped += Math.max(0, Math.round(d / frame) - 1);
  out.frames = {
    count: iv.length,
    p50: pct(iv, 50),
    p99: pct(iv, 99),
    max: iv[iv.length - 1],
    dropped,
    long_tasks: rec.long.length,
    long_task_ms: rec.long.reduce((a, b) => a + b, 0),
    full_renders: rec.stats1.fullRenders - rec.stats0.fullRenders,
    appends: rec.stats1.appends - rec.stats0.appends,
    own_strokes: ownStrokes,
    others: { ...stats },
  };
  log(`while ${DRAWERS} others draw (${stats.live} live messages, ${stats.cursor} cursor moves, ${stats.commits} strokes committed) and the page's user draws ${ownStrokes} strokes, for ${SECONDS} s on a ${rec.visible}-object board:`);
  log(`  frame time p50 ${fmt(out.frames.p50)} ms, p99 ${fmt(out.frames.p99)} ms, max ${fmt(out.frames.max)} ms over ${iv.length} frames; ${dropped} dropped frames (${fmt((100 * dropped) / Math.max(1, iv.length + dropped))}%); ${rec.long.length} long tasks (${fmt(out.frames.long_task_ms)} ms)`);
  log(`  committed layer: ${out.frames.full_renders} full renders, ${out.frames.appends} objects appended`);
  for (const d of drawers) d.c.close();
});
