// dnd.js — drag and drop of cards (and columns) with pointer events and
// the keyboard.
//
// Pointer: a mouse drags a card from anywhere on it; touch and pen drag
// from the card's grip (the rest of the card scrolls the column as usual).
// A drag starts after the pointer moved 5 px; a floating copy follows the
// pointer while a drop marker shows where the card will land. Dropping
// calls onDrop(cardId, columnId, prevId, nextId) with the cards around the
// marker (null at the ends), so the caller computes the position key
// against the full column (hidden, filtered-out cards included).
//
// Keyboard (handled by the view, see keyboardDrag): Space picks the
// focused card up, arrows move it (Up/Down in its column, Left/Right to the
// neighbouring column), Space or Enter drops it, Escape puts it back. Each
// step is announced through an aria-live region.
//
// Columns drag the same way by their header (owners and admins).

const THRESHOLD = 5;
const EDGE = 48;

export class Dnd {
  /**
   * @param {object} o
   * @param {HTMLElement} o.board the element holding the columns (scrolls horizontally)
   * @param {(cardId: string, columnId: string, prevId: string|null, nextId: string|null) => void} o.onDrop
   * @param {(columnId: string, prevId: string|null, nextId: string|null) => void} o.onColumnDrop
   * @param {() => boolean} o.canDragColumns
   * @param {(busy: boolean) => void} o.onActive
   */
  constructor({ board, onDrop, onColumnDrop, canDragColumns, onActive }) {
    this.board = board;
    this.onDrop = onDrop;
    this.onColumnDrop = onColumnDrop;
    this.canDragColumns = canDragColumns;
    this.onActive = onActive ?? (() => {});
    this.drag = null;
    this.suppressClick = false;
    this.down = (e) => this.#onDown(e);
    this.move = (e) => this.#onMove(e);
    this.up = (e) => this.#onUp(e);
    this.cancelKey = (e) => { if (e.key === 'Escape' && this.drag) { e.preventDefault(); this.cancel(); } };
    board.addEventListener('pointerdown', this.down);
    board.addEventListener('click', (e) => {
      if (this.suppressClick) {
        e.stopPropagation();
        e.preventDefault();
        this.suppressClick = false;
      }
    }, true);
  }

  /** The id of the card being dragged, or null. */
  get activeCard() { return this.drag?.type === 'card' && this.drag.started ? this.drag.id : null; }

  dispose() {
    this.cancel();
    this.board.removeEventListener('pointerdown', this.down);
  }

  #onDown(e) {
    if (this.drag || e.button !== 0 || e.isPrimary === false) return;
    const t = e.target;
    if (t.closest('input, textarea, select, a, button:not(.card-grip), [contenteditable]')) return;
    const card = t.closest('[data-card]');
    let type;
    let el;
    if (card && this.board.contains(card) && !card.closest('.is-readonly')) {
      if (e.pointerType !== 'mouse' && !t.closest('.card-grip')) return;
      type = 'card';
      el = card;
    } else {
      const head = t.closest('.column-head');
      if (!head || !this.canDragColumns()) return;
      if (e.pointerType !== 'mouse' && !t.closest('.column-grip')) return;
      type = 'column';
      el = head.closest('[data-column]');
    }
    if (!el) return;
    this.drag = {
      type, el, id: type === 'card' ? el.dataset.card : el.dataset.column,
      x0: e.clientX, y0: e.clientY, pointerId: e.pointerId, started: false,
    };
    window.addEventListener('pointermove', this.move);
    window.addEventListener('pointerup', this.up);
    window.addEventListener('pointercancel', this.up);
    window.addEventListener('keydown', this.cancelKey, true);
  }

  #start(e) {
    const d = this.drag;
    const rect = d.el.getBoundingClientRect();
    d.started = true;
    d.dx = e.clientX - rect.left;
    d.dy = e.clientY - rect.top;
    const ghost = d.el.cloneNode(true);
    ghost.removeAttribute('id');
    ghost.removeAttribute('data-card');
    ghost.removeAttribute('data-column');
    ghost.classList.add('drag-ghost');
    ghost.setAttribute('aria-hidden', 'true');
    ghost.style.width = `${rect.width}px`;
    if (d.type === 'column') ghost.style.height = `${Math.min(rect.height, 420)}px`;
    document.body.append(ghost);
    d.ghost = ghost;
    const marker = document.createElement(d.type === 'card' ? 'li' : 'div');
    marker.className = d.type === 'card' ? 'card-drop' : 'column-drop';
    marker.setAttribute('aria-hidden', 'true');
    if (d.type === 'card') marker.style.height = `${rect.height}px`;
    d.marker = marker;
    d.el.classList.add('is-drag-source');
    document.documentElement.classList.add('is-dragging');
    try { d.el.setPointerCapture?.(d.pointerId); } catch { /* not capturable */ }
    this.onActive(true);
  }

  #onMove(e) {
    const d = this.drag;
    if (!d || e.pointerId !== d.pointerId) return;
    if (!d.started) {
      if (Math.hypot(e.clientX - d.x0, e.clientY - d.y0) < THRESHOLD) return;
      this.#start(e);
    }
    e.preventDefault();
    d.ghost.style.transform = `translate(${e.clientX - d.dx}px, ${e.clientY - d.dy}px)`;
    d.lastX = e.clientX;
    d.lastY = e.clientY;
    this.#place(e.clientX, e.clientY);
    this.#autoScroll(e.clientX, e.clientY);
  }

  #place(x, y) {
    const d = this.drag;
    if (d.type === 'card') {
      const col = columnAt(this.board, x, y);
      const list = col?.querySelector('.cards');
      if (!list) return;
      const items = [...list.children].filter((n) => n.dataset?.card && n !== d.el && !n.hidden);
      let before = null;
      for (const it of items) {
        const r = it.getBoundingClientRect();
        if (y < r.top + r.height / 2) { before = it; break; }
      }
      if (before) {
        if (d.marker.nextSibling !== before || d.marker.parentNode !== list) list.insertBefore(d.marker, before);
      } else if (d.marker.parentNode !== list || d.marker.nextSibling) {
        list.append(d.marker);
      }
    } else {
      const cols = [...this.board.querySelectorAll(':scope > [data-column]')].filter((n) => n !== d.el);
      let before = null;
      for (const c of cols) {
        const r = c.getBoundingClientRect();
        if (x < r.left + r.width / 2) { before = c; break; }
      }
      if (before) {
        if (d.marker.nextSibling !== before) this.board.insertBefore(d.marker, before);
      } else {
        const tail = this.board.querySelector(':scope > .column-new');
        if (d.marker.nextSibling !== tail) this.board.insertBefore(d.marker, tail);
      }
    }
  }

  #autoScroll(x, y) {
    const b = this.board.getBoundingClientRect();
    if (x < b.left + EDGE) this.board.scrollLeft -= 12;
    else if (x > b.right - EDGE) this.board.scrollLeft += 12;
    const list = this.drag?.marker?.parentNode;
    if (list?.classList?.contains('cards')) {
      const r = list.getBoundingClientRect();
      if (y < r.top + EDGE / 2) list.scrollTop -= 10;
      else if (y > r.bottom - EDGE / 2) list.scrollTop += 10;
    }
  }

  #onUp(e) {
    const d = this.drag;
    if (!d || (e.pointerId !== undefined && e.pointerId !== d.pointerId)) return;
    if (!d.started) {
      this.#end();
      return;
    }
    const cancelled = e.type === 'pointercancel';
    const marker = d.marker;
    const parent = marker.parentNode;
    let result = null;
    if (!cancelled && parent) {
      const sib = (n, dir) => {
        let m = n[dir];
        const attr = d.type === 'card' ? 'card' : 'column';
        while (m && (!m.dataset?.[attr] || m === d.el)) m = m[dir];
        return m ? m.dataset[attr] : null;
      };
      const prevId = sib(marker, 'previousElementSibling');
      const nextId = sib(marker, 'nextElementSibling');
      if (d.type === 'card') {
        const col = parent.closest('[data-column]');
        if (col) result = () => this.onDrop(d.id, col.dataset.column, prevId, nextId);
      } else {
        result = () => this.onColumnDrop(d.id, prevId, nextId);
      }
    }
    this.suppressClick = true;
    setTimeout(() => { this.suppressClick = false; }, 0);
    this.#end();
    result?.();
  }

  cancel() {
    if (!this.drag) return;
    this.#end();
  }

  #end() {
    const d = this.drag;
    this.drag = null;
    window.removeEventListener('pointermove', this.move);
    window.removeEventListener('pointerup', this.up);
    window.removeEventListener('pointercancel', this.up);
    window.removeEventListener('keydown', this.cancelKey, true);
    if (!d) return;
    d.ghost?.remove();
    d.marker?.remove();
    d.el.classList.remove('is-drag-source');
    document.documentElement.classList.remove('is-dragging');
    if (d.started) this.onActive(false);
  }
}

function columnAt(board, x, y) {
  const hit = document.elementFromPoint(x, y)?.closest?.('[data-column]');
  if (hit && board.contains(hit)) return hit;
  // Between columns or below the lists: the column whose x-range holds x.
  for (const c of board.querySelectorAll(':scope > [data-column]')) {
    const r = c.getBoundingClientRect();
    if (x >= r.left && x <= r.right) return c;
  }
  return null;
}

/**
 * Keyboard drag of one card: moves its element through the DOM as a
 * preview, and reports where it is. The view owns the keys; this keeps the
 * bookkeeping.
 */
export class KeyboardDrag {
  constructor(board, cardEl) {
    this.board = board;
    this.el = cardEl;
    this.id = cardEl.dataset.card;
    this.origin = { parent: cardEl.parentNode, next: cardEl.nextSibling };
    cardEl.classList.add('is-lifted');
    cardEl.setAttribute('aria-grabbed', 'true');
  }

  columns() {
    return [...this.board.querySelectorAll(':scope > [data-column]')];
  }

  /** Moves the card by dy within its column, or dx columns across. Returns false at an edge. */
  step(dx, dy) {
    const list = this.el.parentNode;
    if (dy) {
      const sibs = [...list.children].filter((n) => n.dataset?.card && !n.hidden);
      const i = sibs.indexOf(this.el);
      const j = i + dy;
      if (j < 0 || j >= sibs.length) return false;
      if (dy < 0) list.insertBefore(this.el, sibs[j]);
      else list.insertBefore(this.el, sibs[j].nextSibling);
    } else if (dx) {
      const cols = this.columns();
      const ci = cols.indexOf(list.closest('[data-column]'));
      const target = cols[ci + dx];
      if (!target) return false;
      const tl = target.querySelector('.cards');
      const sibs = [...list.children].filter((n) => n.dataset?.card && !n.hidden);
      const idx = sibs.indexOf(this.el);
      const tsibs = [...tl.children].filter((n) => n.dataset?.card && !n.hidden);
      const at = tsibs[Math.min(idx, tsibs.length)] ?? null;
      tl.insertBefore(this.el, at);
    }
    this.el.focus({ preventScroll: false });
    this.el.scrollIntoView({ block: 'nearest', inline: 'nearest' });
    return true;
  }

  /** {columnId, prevId, nextId, index, count} of where the card is now. */
  where() {
    const list = this.el.parentNode;
    const sibs = [...list.children].filter((n) => n.dataset?.card && !n.hidden);
    const i = sibs.indexOf(this.el);
    const all = [...list.children].filter((n) => n.dataset?.card);
    const j = all.indexOf(this.el);
    return {
      columnId: list.closest('[data-column]')?.dataset.column,
      prevId: j > 0 ? all[j - 1].dataset.card : null,
      nextId: j + 1 < all.length ? all[j + 1].dataset.card : null,
      index: i,
      count: sibs.length,
    };
  }

  /** Puts the card back where it was. */
  restore() {
    const { parent, next } = this.origin;
    if (parent?.isConnected) parent.insertBefore(this.el, next?.parentNode === parent ? next : null);
    this.finish();
  }

  finish() {
    this.el.classList.remove('is-lifted');
    this.el.removeAttribute('aria-grabbed');
  }
}
