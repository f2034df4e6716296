// board_load.mjs — the kanban board under load, on a real cluster (redis,
// PostgreSQL, the worker, two gateways, nginx serving web/; set up by
// browser_bench.mjs): run through board_load.sh, which builds and passes
// the binaries.
//
// 1. Creates a board with BOARD_CARDS cards (default 2000), published as
//    card.create events over one WebSocket with the real client
//    (web/src/lib/client.js, pipelined; the gateways run with a higher
//    --publish-rate for this).
// 2. Measures in headless Chromium the time from navigation to the board
//    fully rendered (the app's performance.mark('board-rendered'), set
//    after the first full render of the snapshot), RUNS times; prints the
//    median and the spread.
// 3. Connects BOARD_OBSERVERS (default 50) Node clients — each the real
//    client.js with its own folded board state (snapshot + live events via
//    the board reducer), alternating between the two gateways — plus the
//    browser page, then publishes BOARD_MOVES card.move events (default
//    200, BOARD_MOVE_RATE per second, open loop) from another connection
//    and measures, per move and per client, the time from publish() to the
//    moved event being folded in that client. Prints p50/p99/max.
//
// Figures only; not a test. Environment: CHORUS_GATEWAY_BIN,
// CHORUS_WORKER_BIN (required), BOARD_CARDS, BOARD_RUNS, BOARD_OBSERVERS,
// BOARD_MOVES, BOARD_MOVE_RATE, BOARD_JSON (write the figures there).

import { fmt, h, importRepo, log, median, pct, runBench, sleep } from './browser_bench.mjs';

const { reduceInPlace } = await importRepo('web', 'src', 'lib', 'reducers', 'index.js');
const { spread } = await importRepo('web', 'src', 'lib', 'positions.js');
const { BoardModel, planMove } = await importRepo('web', 'src', 'app', 'board', 'model.js');

const CARDS = Number(process.env.BOARD_CARDS ?? 2000);
const RUNS = Number(process.env.BOARD_RUNS ?? 5);
const OBSERVERS = Number(process.env.BOARD_OBSERVERS ?? 50);
const MOVES = Number(process.env.BOARD_MOVES ?? 200);
const MOVE_RATE = Number(process.env.BOARD_MOVE_RATE ?? 20);

runBench({
  name: 'board_load',
  banner: `${CARDS} cards, ${RUNS} render runs, ${OBSERVERS} observers, ${MOVES} moves at ${MOVE_RATE}/s`,
  publishRate: 5000,
  out: { cards: CARDS, observers: OBSERVERS, moves: MOVES, move_rate: MOVE_RATE },
  jsonEnv: 'BOARD_JSON',
}, async (bench) => {
  const { out } = bench;
  await bench.createRoom('bench', 'board', 'Big board');
  const board = bench.room.id;

  // ---------------------------------------------------------------- 2000 cards
  const { c: writer, hd: wh } = bench.join(0);
  await wh.ready;
  const cols = ['todo', 'doing', 'done'];
  const per = Math.ceil(CARDS / cols.length);
  const keys = spread(per);
  const tc = Date.now();
  const pubs = [];
  for (let i = 0; i < CARDS; i++) {
    const col = cols[i % cols.length];
    pubs.push(wh.publish('card.create', {
      id: `k${String(i).padStart(5, '0')}`, column: col, title: `Card ${i}: ${['fix', 'ship', 'review', 'plan'][i % 4]} item ${i * 7 % 1000}`,
      description: i % 5 ? '' : 'Some **markdown** with a [link](https://example.com).', position: keys[Math.floor(i / cols.length)],
    }));
  }
  const acks = await Promise.all(pubs);
  const createMs = Date.now() - tc;
  const lastSeq = Math.max(...acks.map((a) => a.seq));
  log(`created ${CARDS} cards over WebSocket in ${createMs} ms (${fmt(CARDS / (createMs / 1000))}/s), last seq ${lastSeq}`);
  out.create_ms = createMs;
  await bench.waitSnapshot(lastSeq, 'the snapshot to include every card');

  // ---------------------------------------------------------------- render time
  const { page, url } = await bench.signIn();
  const renders = [];
  const paints = [];
  for (let r = 0; r < RUNS + 1; r++) {
    await page.goto('about:blank');
    await page.goto(url);
    await page.locator(`section.board-app[data-room="${board}"][data-state="ready"]`).waitFor({ timeout: 60000 });
    await page.waitForFunction(() => performance.getEntriesByName('board-painted').length > 0);
    const m = await page.evaluate(() => ({
      mark: performance.getEntriesByName('board-rendered')[0]?.startTime,
      painted: performance.getEntriesByName('board-painted')[0]?.startTime,
      cards: document.querySelectorAll('.cards > [data-card]').length,
    }));
    if (m.cards !== CARDS) throw new Error(`rendered ${m.cards} cards, expected ${CARDS}`);
    if (r > 0) { renders.push(m.mark); paints.push(m.painted); } // the first load warms the HTTP cache
    log(`  render run ${r}${r === 0 ? ' (warm-up)' : ''}: ${fmt(m.mark)} ms to board-rendered, ${fmt(m.painted)} ms to the next frame, ${m.cards} cards in the DOM`);
  }
  const rs = [...renders].sort((a, b) => a - b);
  out.render_ms = { median: median(rs), min: rs[0], max: rs[rs.length - 1], runs: rs };
  out.painted_ms = { median: median(paints), runs: paints };
  log(`render ${CARDS} cards: median ${fmt(out.render_ms.median)} ms from navigation to board-rendered (min ${fmt(rs[0])}, max ${fmt(rs[rs.length - 1])}, ${RUNS} runs); median ${fmt(out.painted_ms.median)} ms to the frame after it`);

  // ---------------------------------------------------------------- move latency to observers
  const snap = await bench.snapshot();
  const sent = new Map(); // cid -> performance.now() at publish
  const lat = []; // ms, one per (move, observer)
  const perObserver = new Array(OBSERVERS).fill(0);
  const observers = [];
  for (let i = 0; i < OBSERVERS; i++) {
    const state = structuredClone(snap.state);
    const { c, hd } = bench.join(i, {
      since: snap.seq,
      epoch: snap.epoch,
      onEvent: (ev) => {
        reduceInPlace('board', state, ev);
        const t = sent.get(ev.cid);
        if (t !== undefined && ev.kind === 'card.move') {
          lat.push(performance.now() - t);
          perObserver[i]++;
        }
      },
    });
    observers.push({ c, hd, state });
  }
  await Promise.all(observers.map((o) => o.hd.ready));
  // The browser page is one more observer (its board model folds the same events).
  await page.evaluate(() => {
    window.__moves = [];
    document.querySelector('.board-app').chorusBoard.model.on((ch) => {
      if (ch.type === 'event' && ch.event.kind === 'card.move') window.__moves.push([ch.event.cid, Date.now()]);
    });
  });
  const model = new BoardModel({ me: String(bench.reg.user.id) });
  model.loadSnapshot(snap);
  const { c: mover, hd: mh } = bench.join(1, { since: snap.seq, epoch: snap.epoch, onEvent: (ev) => model.applyEvent(ev) });
  await mh.ready;
  const sentWall = new Map();
  let rnd = 12345;
  const rand = (n) => { rnd = (rnd * 1103515245 + 12345) % 2147483648; return rnd % n; };
  const gap = 1000 / MOVE_RATE;
  const start = performance.now();
  const movePubs = [];
  for (let m = 0; m < MOVES; m++) {
    const wait = start + m * gap - performance.now();
    if (wait > 0) await sleep(wait);
    const layout = model.layout();
    const all = layout.flatMap((l) => l.cards);
    const card = all[rand(all.length)];
    const target = layout[rand(layout.length)];
    const plan = planMove(target.cards, card.id, target.column.id, rand(target.cards.length + 1), card);
    for (const mv of plan.moves) {
      const cid = `mv${m}-${mv.id}`;
      sent.set(cid, performance.now());
      sentWall.set(cid, Date.now());
      movePubs.push(mh.publish('card.move', mv, { cid }));
    }
  }
  await Promise.all(movePubs);
  const expected = sent.size * OBSERVERS;
  await h.waitFor(() => lat.length >= expected, { timeoutMs: 20000, what: `all ${expected} deliveries folded` }).catch((e) => log(`! ${e.message}`));
  const ls = [...lat].sort((a, b) => a - b);
  out.move_latency_ms = { p50: pct(ls, 50), p90: pct(ls, 90), p99: pct(ls, 99), max: ls[ls.length - 1], samples: ls.length, expected };
  log(`move -> folded in ${OBSERVERS} node clients: p50 ${fmt(out.move_latency_ms.p50)} ms, p90 ${fmt(out.move_latency_ms.p90)} ms, p99 ${fmt(out.move_latency_ms.p99)} ms, max ${fmt(out.move_latency_ms.max)} ms (${ls.length}/${expected} deliveries, ${sent.size} moves)`);
  await h.waitFor(async () => (await page.evaluate(() => window.__moves.length)) >= sent.size, { timeoutMs: 10000, what: 'the browser to fold every move' }).catch((e) => log(`! ${e.message}`));
  const bm = await page.evaluate(() => window.__moves);
  const bl2 = bm.filter(([cid]) => sentWall.has(cid)).map(([cid, t]) => t - sentWall.get(cid)).sort((a, b) => a - b);
  out.browser_move_latency_ms = { p50: pct(bl2, 50), p99: pct(bl2, 99), max: bl2[bl2.length - 1], samples: bl2.length };
  log(`move -> folded in the browser page (${CARDS}-card board): p50 ${fmt(out.browser_move_latency_ms.p50)} ms, p99 ${fmt(out.browser_move_latency_ms.p99)} ms, max ${fmt(out.browser_move_latency_ms.max)} ms (${bl2.length} moves; ms clock)`);
  // Every client ends with the same state.
  const ref = JSON.stringify(model.state.cards);
  const same = observers.filter((o) => JSON.stringify(o.state.cards) === ref).length;
  log(`converged: ${same}/${OBSERVERS} node clients hold the mover's state (seq ${model.state.seq})`);
  out.converged = `${same}/${OBSERVERS}`;
  for (const o of observers) o.c.close();
  mover.close();
  writer.close();
});
