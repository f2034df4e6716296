// web-board.test.mjs — the board app's pure modules in node: the safe
// markdown parser, move planning with fractional keys (respacing when keys
// would grow past 128 characters), the optimistic overlay and conflict
// detection of the board model.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMarkdown, parseInline, safeHref } from '../../web/src/app/board/markdown.js';
import {
  BoardModel, changedSince, describeEvent, dueOf, humanSummary, lastOtherAuthor, plainLabels, planMove, staleUpdate,
} from '../../web/src/app/board/model.js';
import { between, POSITION_MAX } from '../../web/src/lib/positions.js';
import { cardsInColumn, reduce, stateNew } from '../../web/src/lib/reducers/index.js';

/** Every node type and href in a tree. */
function walk(node, out = []) {
  out.push(node);
  for (const k of ['children', 'items']) {
    const v = node[k];
    if (Array.isArray(v)) for (const c of v.flat()) walk(c, out);
  }
  return out;
}

describe('markdown', () => {
  test('paragraphs, emphasis, code, lists, fenced code', () => {
    const t = parseMarkdown('Hello **big** *world* and `x<y`\nnext line\n\n- one\n- two\n\n1. a\n2. b\n```\n<b>raw</b>\n```');
    assert.deepEqual(t.children.map((b) => b.type), ['p', 'ul', 'ol', 'pre']);
    const p = t.children[0].children;
    assert.deepEqual(p.map((n) => n.type), ['text', 'strong', 'text', 'em', 'text', 'code', 'br', 'text']);
    assert.equal(p[5].text, 'x<y');
    assert.equal(t.children[1].items.length, 2);
    assert.equal(t.children[3].text, '<b>raw</b>');
  });

  test('links: only http and https, everything else stays text', () => {
    for (const bad of ['javascript:alert(1)', 'JAVASCRIPT:alert(1)', 'data:text/html,<script>', 'vbscript:x', '//evil.example', '/relative', 'java\tscript:x']) {
      const nodes = walk(parseMarkdown(`[x](${bad})`));
      assert.equal(nodes.filter((n) => n.type === 'a').length, 0, bad);
    }
    const ok = walk(parseMarkdown('see [docs](https://example.com/a?b=1) and http://x.example/y.'));
    const links = ok.filter((n) => n.type === 'a').map((n) => n.href);
    assert.deepEqual(links, ['https://example.com/a?b=1', 'http://x.example/y']);
    assert.equal(safeHref(' https://ok.example '), 'https://ok.example/');
    assert.equal(safeHref('https://'), null);
  });

  test('HTML is text; snake_case is not italic; nesting is bounded', () => {
    const nodes = walk(parseMarkdown('<img src=x onerror=alert(1)> my_var_name'));
    assert.ok(nodes.every((n) => ['root', 'p', 'text'].includes(n.type)));
    assert.equal(nodes.filter((n) => n.type === 'text').map((n) => n.text).join(''), '<img src=x onerror=alert(1)> my_var_name');
    const deep = parseInline('**'.repeat(40) + 'x' + '**'.repeat(40));
    assert.ok(walk({ children: deep }).length < 200);
  });
});

describe('move planning', () => {
  const cards = (keys) => keys.map((p, i) => ({ id: `c${i}`, column: 'todo', position: p }));

  test('one move between the neighbours; none when staying put', () => {
    const list = cards(['a', 'b', 'c']);
    assert.deepEqual(planMove(list, 'c2', 'todo', 0, list[2]).moves, [{ id: 'c2', column: 'todo', position: 'V' }].map((m) => ({ ...m, position: between(null, 'a') })));
    assert.deepEqual(planMove(list, 'c1', 'todo', 1, list[1]).moves, []);
    const across = planMove(list, 'x', 'todo', 1);
    assert.equal(across.moves.length, 1);
    assert.ok(across.moves[0].position > 'a' && across.moves[0].position < 'b');
  });

  test('equal keys (two concurrent drops into one gap) still leave room', () => {
    const list = [{ id: 'a', column: 'd', position: 'a' }, { id: 'p', column: 'd', position: 'aV' }, { id: 'q', column: 'd', position: 'aV' }, { id: 'b', column: 'd', position: 'b' }];
    const m = planMove(list, 'n', 'd', 2).moves;
    assert.equal(m.length, 1);
    assert.ok(m[0].position > 'aV' && m[0].position < 'b');
  });

  test('respaces the column when a key would pass 128 characters', () => {
    // Keep dropping into the same gap until keys run long.
    let state = stateNew('board');
    let seq = 0;
    const ev = (kind, payload) => ({ seq: ++seq, ts: 1, author: 'u', kind, payload });
    state = reduce('board', state, ev('card.create', { id: 'lo', column: 'todo', title: 'lo', position: 'a' }));
    state = reduce('board', state, ev('card.create', { id: 'hi', column: 'todo', title: 'hi', position: 'b' }));
    // Narrow one gap: each new card goes between the two newest ones.
    let respaced = null;
    let loId = 'lo';
    let hiId = 'hi';
    for (let i = 0; i < 1000 && !respaced; i++) {
      const id = `n${i}`;
      const list = cardsInColumn(state, 'todo');
      const at = list.findIndex((c) => c.id === hiId);
      assert.equal(list[at - 1].id, loId);
      const plan = planMove(list, id, 'todo', at);
      if (plan.respaced) respaced = { plan, list, id, at };
      else state = reduce('board', state, ev('card.create', { id, column: 'todo', title: id, position: plan.moves[0].position }));
      assert.ok(plan.moves.every((mv) => mv.position.length <= POSITION_MAX));
      if (i % 2) hiId = id; else loId = id;
    }
    assert.ok(respaced, 'a respace happened');
    const { plan, list, id, at } = respaced;
    // Fold the plan (the new card created at its key, the others moved): same order, short keys.
    const want = [...list.slice(0, at).map((c) => c.id), id, ...list.slice(at).map((c) => c.id)];
    for (const mv of plan.moves) {
      state = mv.id === id
        ? reduce('board', state, ev('card.create', { id, column: 'todo', title: id, position: mv.position }))
        : reduce('board', state, ev('card.move', mv));
    }
    const after = cardsInColumn(state, 'todo');
    assert.deepEqual(after.map((c) => c.id), want);
    assert.ok(after.every((c) => c.position.length <= 8), 'fresh short keys');
  });
});

describe('board model', () => {
  const wire = (seq, author, kind, payload, cid) => ({ room: 'board.1.1', seq, epoch: 1, ts: 1000 + seq, author, kind, payload, cid });

  test('optimistic ops show on top and leave with their event; the folded state stays the server\'s', () => {
    const m = new BoardModel({ me: '1' });
    m.loadSnapshot({ seq: 0, epoch: 1, state: stateNew('board') });
    m.addOp('c1', 'card.create', { id: 'k1', column: 'todo', title: 'T', position: 'V' });
    assert.equal(m.view().cards.k1.title, 'T');
    assert.equal(m.state.cards.k1, undefined);
    assert.deepEqual([...m.pendingIds()], ['k1']);
    m.ackOp('c1', 1);
    m.applyEvent(wire(1, '1', 'card.create', { id: 'k1', column: 'todo', title: 'T', position: 'V' }, 'c1'));
    assert.equal(m.ops.size, 0);
    assert.equal(m.state.cards.k1.title, 'T');
    assert.deepEqual(m.layout().map((l) => l.cards.length), [1, 0, 0]);
    // A refused op disappears.
    m.addOp('c2', 'column.create', { id: 'x', title: 'X', position: 'd' });
    assert.equal(m.layout().length, 4);
    m.dropOp('c2');
    assert.equal(m.layout().length, 3);
  });

  test('an op acknowledged in one epoch leaves the overlay when a snapshot of another epoch comes', () => {
    const m = new BoardModel({ me: '1' });
    m.loadSnapshot({ seq: 10, epoch: 1, state: { ...stateNew('board'), seq: 10 } });
    m.addOp('c1', 'card.create', { id: 'k1', column: 'todo', title: 'T', position: 'V' });
    m.ackOp('c1', 11, 1);
    assert.equal(m.ops.size, 1, 'waits for its event');
    // The room starts epoch 2 (seqs restart) before the event came: the new
    // epoch's snapshot never reaches seq 11, and the op must not linger.
    m.loadSnapshot({ seq: 2, epoch: 2, state: { ...stateNew('board'), seq: 2 } });
    assert.equal(m.ops.size, 0);
    assert.equal(m.view().cards.k1, undefined);

    // Acknowledged in the new epoch while the state is still the old one's:
    // settled by that epoch's snapshot by seq, not by the old state's seq.
    m.loadSnapshot({ seq: 10, epoch: 2, state: { ...stateNew('board'), seq: 10 } });
    m.addOp('c2', 'card.create', { id: 'k2', column: 'todo', title: 'U', position: 'W' });
    m.addOp('c3', 'card.create', { id: 'k3', column: 'todo', title: 'X', position: 'X' });
    m.ackOp('c2', 3, 3);
    m.ackOp('c3', 5, 3);
    assert.equal(m.ops.size, 2, 'seq 3 of epoch 3 is not below seq 10 of epoch 2');
    m.loadSnapshot({ seq: 4, epoch: 3, state: { ...stateNew('board'), seq: 4 } });
    assert.deepEqual([...m.ops.keys()], ['c3'], 'seq 3 is in the snapshot, seq 5 still to come');
    m.applyEvent({ ...wire(5, '1', 'card.create', { id: 'k3', column: 'todo', title: 'X', position: 'X' }, 'c3'), epoch: 3 });
    assert.equal(m.ops.size, 0);
    // Same epoch, already folded: settled at once.
    m.addOp('c4', 'card.delete', { id: 'k3' });
    m.ackOp('c4', 5, 3);
    assert.equal(m.ops.size, 0);
  });

  test('a stale own card.update is reported as a conflict; a fresh one is not', () => {
    const m = new BoardModel({ me: '1' });
    m.loadSnapshot({ seq: 0, epoch: 1, state: stateNew('board') });
    m.applyEvent(wire(1, '1', 'card.create', { id: 'k', column: 'todo', title: 'T', position: 'V' }));
    m.applyEvent(wire(2, '2', 'card.update', { id: 'k', description: 'theirs', base_version: 1 }));
    m.addOp('mine', 'card.update', { id: 'k', description: 'mine', base_version: 1 });
    assert.equal(m.view().cards.k.description, 'mine', 'shown while pending');
    const r = m.applyEvent(wire(3, '1', 'card.update', { id: 'k', description: 'mine', base_version: 1 }, 'mine'));
    assert.equal(r.applied, false);
    assert.deepEqual(r.conflict, { card: 'k', fields: { description: 'mine' }, baseVersion: 1, version: 2 });
    assert.equal(m.state.cards.k.description, 'theirs');
    const ok = m.applyEvent(wire(4, '1', 'card.update', { id: 'k', description: 'mine', base_version: 2 }));
    assert.equal(ok.applied, true);
    assert.equal(ok.conflict, null);
    assert.equal(staleUpdate({ id: 'k', version: 3 }, { id: 'k', title: 'x' }), null, 'no base_version: no conflict');
  });

  test('who changed it, what changed, due dates, summaries', () => {
    const activity = [
      { seq: 3, author: '2', card: 'k', kind: 'card.update' },
      { seq: 4, author: '1', card: 'k', kind: 'card.move' },
      { seq: 5, author: '3', card: 'z', kind: 'card.update' },
    ];
    assert.equal(lastOtherAuthor(activity, 'k', '1').author, '2');
    assert.equal(lastOtherAuthor(activity, 'q', '1'), null);
    assert.deepEqual(changedSince({ title: 'a', description: 'x' }, { title: 'a', description: 'y' }, ['title', 'description']), ['description']);
    const card = { labels: ['bug', 'due:2030-01-02'] };
    assert.equal(dueOf(card), '2030-01-02');
    assert.deepEqual(plainLabels(card), ['bug']);
    const names = (u) => ({ 2: 'Bob' })[u] ?? u;
    assert.equal(humanSummary({ kind: 'card.assign', summary: 'assigned 2 to card "X"' }, names), 'assigned Bob to card "X"');
    assert.equal(humanSummary({ kind: 'card.label', summary: 'added label "due:2030-01-02" to card "X"' }, names), 'set the due date of card "X" to 2030-01-02');
    assert.equal(describeEvent({ kind: 'card.create', payload: { title: 'Y', column: 'todo' } }, stateNew('board')), 'added card "Y" to "To Do"');
  });
});
