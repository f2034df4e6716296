// dialog.js — the card dialog (title, column, labels, due date, assignees,
// description in markdown, comments, who else is looking, the card's
// activity), and the prompt shown when someone changed a card meanwhile.
//
// Fields being edited are never overwritten by live updates: the title
// input while focused, the description editor while open. Saving goes
// through BoardView.saveFields, which compares with the card as it was
// when editing began.

import { h, icon, replace } from '../dom.js';
import { avatar, formatFull, formatTime } from '../format.js';
import { randomId } from '../../lib/ids.js';
import { dueChip, labelChip } from './cards.js';
import { renderMarkdown } from './markdown.js';
import { openModal } from './modal.js';
import { describeEvent, dueOf, eventIsAboutCard, humanSummary, plainLabels } from './model.js';

const HISTORY_PAGE = 50;

export class CardDialog {
  constructor(view, cardId, onClose) {
    this.view = view;
    this.cardId = cardId;
    this.onClose = onClose;
    this.editingDesc = null; // {base} while the description editor is open
    this.titleBase = null;
    this.history = new Map(); // seq -> event (older, from the API)
    this.historyMore = true;
    this.historyLoading = false;
    this.closed = false;
    this.build();
    this.refresh();
    this.titleInput.focus();
    this.titleInput.setSelectionRange(0, 0);
    this.loadHistory();
  }

  get card() { return this.view.model.view().cards[this.cardId] ?? null; }

  build() {
    const v = this.view;
    this.titleInput = h('input', {
      type: 'text', class: 'card-dialog-title',
      attrs: { 'aria-label': 'Card title', maxlength: 200, 'data-testid': 'card-title-input' },
      on: {
        input: () => { if (!this.titleBase && this.card) this.titleBase = { ...this.card }; },
        keydown: (e) => {
          if (e.key === 'Enter') { e.preventDefault(); this.titleInput.blur(); }
          if (e.key === 'Escape' && this.titleBase) {
            e.preventDefault();
            this.titleInput.value = this.titleBase.title;
            this.titleBase = null;
            this.titleInput.blur();
          }
        },
        blur: () => this.saveTitle(),
      },
    });
    this.columnSel = h('select', {
      class: 'board-select', attrs: { 'aria-label': 'Column', 'data-testid': 'card-column' },
      on: { change: () => { const c = this.columnSel.value; const n = v.model.layout().find((l) => l.column.id === c)?.cards.length ?? 0; v.moveCardToIndex(this.cardId, c, n); } },
    });
    this.metaEl = h('p', { class: 'card-dialog-meta muted' });
    this.viewersEl = h('div', { class: 'card-viewing', attrs: { 'data-testid': 'card-viewing', 'aria-live': 'polite' } });
    this.labelsEl = h('div', { class: 'chip-row' });
    this.labelInput = h('input', {
      type: 'text', placeholder: 'Add a label', class: 'chip-input',
      attrs: { 'aria-label': 'New label', maxlength: 32, 'data-testid': 'label-input' },
      on: { keydown: (e) => { if (e.key === 'Enter') { e.preventDefault(); this.addLabel(); } } },
    });
    this.dueInput = h('input', {
      type: 'date', class: 'due-input', attrs: { 'aria-label': 'Due date', 'data-testid': 'due-input' },
      on: { change: () => v.setDue(this.cardId, this.dueInput.value || null) },
    });
    this.dueEl = h('span', { class: 'due-view' });
    this.assigneesEl = h('div', { class: 'chip-row' });
    this.assignSel = h('select', {
      class: 'board-select', attrs: { 'aria-label': 'Assign someone', 'data-testid': 'assign-select' },
      on: { change: () => { const u = this.assignSel.value; this.assignSel.value = ''; if (u) v.publish('card.assign', { id: this.cardId, user: u }); } },
    });
    this.descEl = h('div', { class: 'card-desc' });
    this.descBox = h('div', { class: 'card-desc-box' });
    this.commentsEl = h('ol', { class: 'comment-list', attrs: { 'aria-label': 'Comments' } });
    this.commentInput = h('textarea', {
      rows: 2, placeholder: 'Write a comment', class: 'comment-input',
      attrs: { 'aria-label': 'New comment', maxlength: 4000, 'data-testid': 'comment-input' },
      on: { keydown: (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); this.addComment(); } } },
    });
    this.activityEl = h('ol', { class: 'activity-list', attrs: { 'aria-label': 'Card activity', 'data-testid': 'card-activity' } });
    this.moreBtn = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm', hidden: true,
      on: { click: () => this.loadHistory() },
    }, 'Load older activity');
    this.goneEl = h('div', { class: 'alert alert-error', hidden: true, attrs: { role: 'alert' } }, icon('alert', 16), h('span', null, 'This card was deleted.'));
    this.deleteBtn = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm btn-danger-text', attrs: { 'data-testid': 'delete-card' },
      on: { click: async () => { if (await v.deleteCard(this.cardId)) this.close(); } },
    }, icon('trash', 14), 'Delete card');

    const section = (title, ...body) => h('section', { class: 'card-section' }, h('h3', null, title), ...body);
    this.dlg = h('dialog', {
      class: 'card-dialog', dataset: { card: this.cardId },
      attrs: { 'aria-label': 'Card', 'data-testid': 'card-dialog' },
    },
    h('div', { class: 'card-dialog-inner' },
      h('header', { class: 'card-dialog-head' },
        this.titleInput,
        h('button', {
          type: 'button', class: 'btn btn-ghost btn-icon btn-sm', attrs: { 'aria-label': 'Close', 'data-testid': 'close-card' },
          on: { click: () => this.close() },
        }, icon('x', 18))),
      this.goneEl,
      h('div', { class: 'card-dialog-sub' }, h('label', { class: 'inline-label' }, 'In ', this.columnSel), this.metaEl, this.viewersEl),
      h('div', { class: 'card-dialog-grid' },
        h('div', { class: 'card-dialog-main' },
          section('Description', this.descBox),
          section('Comments', this.commentsEl, h('form', {
            class: 'comment-form', on: { submit: (e) => { e.preventDefault(); this.addComment(); } },
          }, this.commentInput, h('button', { type: 'submit', class: 'btn btn-primary btn-sm', attrs: { 'data-testid': 'add-comment' } }, 'Comment'))),
          section('Activity', this.activityEl, this.moreBtn)),
        h('aside', { class: 'card-dialog-side' },
          section('Labels', this.labelsEl, h('form', { class: 'chip-form', on: { submit: (e) => { e.preventDefault(); this.addLabel(); } } }, this.labelInput)),
          section('Due date', h('div', { class: 'due-row' }, this.dueInput, this.dueEl)),
          section('Assignees', this.assigneesEl, this.assignSel),
          h('div', { class: 'card-dialog-danger' }, this.deleteBtn)))));
    this.dlg.addEventListener('cancel', (e) => {
      e.preventDefault();
      if (this.editingDesc || this.titleBase) return; // Escape leaves the editor first
      this.close();
    });
    this.dlg.addEventListener('click', (e) => { if (e.target === this.dlg) this.close(); });
    this.view.el.append(this.dlg);
    this.dlg.showModal();
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    if (this.dlg.open) this.dlg.close();
    this.dlg.remove();
    this.onClose?.();
  }

  // ------------------------------------------------------------ rendering

  refresh() {
    if (this.closed) return;
    const card = this.card;
    const v = this.view;
    const gone = !card;
    this.goneEl.hidden = !gone;
    this.dlg.classList.toggle('is-gone', gone);
    for (const el of this.dlg.querySelectorAll('input, textarea, select, .card-dialog-main button, .card-dialog-side button')) el.disabled = gone || v.denied;
    if (gone) return;
    const pending = v.model.pendingIds().has(card.id);
    this.dlg.classList.toggle('is-pending', pending);
    if (!this.titleBase) this.titleInput.value = card.title;
    // Column
    const cols = v.model.layout().map((l) => l.column);
    const csig = cols.map((c) => `${c.id}:${c.title}`).join('\u0001');
    if (csig !== this.colSig) {
      this.colSig = csig;
      replace(this.columnSel, cols.map((c) => h('option', { value: c.id }, c.title)));
    }
    this.columnSel.value = card.column;
    replace(this.metaEl, `Added by ${v.ws.nameOf(card.created_by)} · ${formatFull(card.created_ts)}`,
      pending ? h('span', { class: 'pending-note' }, ' · saving…') : null);
    // Labels
    const labels = plainLabels(card);
    replace(this.labelsEl, labels.length ? labels.map((l) => labelChip(l, h('button', {
      type: 'button', class: 'chip-x', attrs: { 'aria-label': `Remove label ${l}` },
      on: { click: () => v.setLabel(card.id, l, false) },
    }, icon('x', 10)))) : h('span', { class: 'muted' }, 'No labels'));
    // Due date
    const due = dueOf(card);
    if (document.activeElement !== this.dueInput) this.dueInput.value = due ?? '';
    replace(this.dueEl, due ? [dueChip(due), h('button', {
      type: 'button', class: 'btn btn-ghost btn-xs', attrs: { 'aria-label': 'Clear the due date' },
      on: { click: () => v.setDue(card.id, null) },
    }, 'Clear')] : null);
    // Assignees
    replace(this.assigneesEl, card.assignees.length ? card.assignees.map((u) => h('span', { class: 'person-chip', dataset: { user: u } },
      avatar(u, v.ws.nameOf(u), { size: 'xs' }), v.ws.nameOf(u),
      h('button', {
        type: 'button', class: 'chip-x', attrs: { 'aria-label': `Unassign ${v.ws.nameOf(u)}` },
        on: { click: () => v.publish('card.unassign', { id: card.id, user: u }) },
      }, icon('x', 10)))) : h('span', { class: 'muted' }, 'Nobody yet'));
    const free = v.ws.members.filter((m) => !card.assignees.includes(String(m.user_id)));
    replace(this.assignSel, h('option', { value: '' }, free.length ? 'Assign someone…' : 'Everyone is assigned'),
      free.map((m) => h('option', { value: String(m.user_id) }, v.ws.nameOf(m.user_id))));
    this.assignSel.disabled = !free.length || card.assignees.length >= 20;
    // Description
    if (!this.editingDesc) this.renderDescView(card);
    // Comments
    this.renderComments(card);
    this.renderActivity();
    this.renderViewers();
  }

  renderDescView(card) {
    const body = card.description
      ? h('div', { class: 'card-desc markdown', attrs: { 'data-testid': 'card-description' } }, renderMarkdown(card.description))
      : h('p', { class: 'muted card-desc-empty', attrs: { 'data-testid': 'card-description' } }, 'No description.');
    const sig = card.description;
    if (this.descSig === sig && this.descBox.querySelector('[data-testid="card-description"]')) return;
    this.descSig = sig;
    replace(this.descBox, body, h('button', {
      type: 'button', class: 'btn btn-secondary btn-sm', attrs: { 'data-testid': 'edit-description' },
      on: { click: () => this.editDescription() },
    }, icon('edit', 14), card.description ? 'Edit' : 'Add a description'));
  }

  editDescription() {
    const card = this.card;
    if (!card) return;
    this.editingDesc = { base: { ...card } };
    const ta = h('textarea', {
      class: 'desc-input', rows: 8, value: card.description,
      attrs: { 'aria-label': 'Description', maxlength: 20000, 'data-testid': 'description-input' },
    });
    ta.value = card.description;
    const save = h('button', { type: 'submit', class: 'btn btn-primary btn-sm', attrs: { 'data-testid': 'save-description' } }, 'Save');
    const cancel = () => {
      this.editingDesc = null;
      this.descSig = null;
      this.refresh();
    };
    ta.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); cancel(); }
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
    });
    const form = h('form', {
      class: 'desc-form',
      on: {
        submit: async (e) => {
          e.preventDefault();
          if (!this.editingDesc) return;
          const text = ta.value.replace(/\r\n?/g, '\n');
          if ([...text].length > 10000) {
            this.view.showError('A description has at most 10,000 characters.');
            return;
          }
          save.disabled = true;
          const r = await this.view.saveFields(this.cardId, { description: text }, this.editingDesc.base);
          save.disabled = false;
          if (r !== 'dismissed') cancel();
        },
      },
    }, ta,
    h('p', { class: 'field-hint' }, 'Markdown: **bold**, *italic*, `code`, lists, links. Ctrl+Enter saves.'),
    h('div', { class: 'desc-actions' }, save, h('button', { type: 'button', class: 'btn btn-ghost btn-sm', on: { click: cancel } }, 'Cancel')));
    replace(this.descBox, form);
    ta.focus();
  }

  async saveTitle() {
    const base = this.titleBase;
    this.titleBase = null;
    const card = this.card;
    if (!base || !card) return;
    const t = this.titleInput.value.trim();
    if (!t) {
      this.titleInput.value = card.title;
      return;
    }
    if (t === base.title) return;
    await this.view.saveFields(this.cardId, { title: [...t].slice(0, 200).join('') }, base);
    this.refresh();
  }

  addLabel() {
    const l = this.labelInput.value.trim();
    if (!l) return;
    if (/^due:/i.test(l)) {
      this.view.showError('Labels starting with "due:" are reserved for the due date.');
      return;
    }
    if ([...l].length > 32) {
      this.view.showError('A label has at most 32 characters.');
      return;
    }
    this.labelInput.value = '';
    this.view.setLabel(this.cardId, l, true);
  }

  addComment() {
    const text = this.commentInput.value.trim();
    if (!text) return;
    if ([...text].length > 4000) {
      this.view.showError('A comment has at most 4,000 characters.');
      return;
    }
    this.commentInput.value = '';
    this.view.publish('comment.add', { card: this.cardId, id: `m${randomId(14)}`, text });
  }

  renderComments(card) {
    const v = this.view;
    const ops = [...v.model.ops.values()];
    const sig = card.comments.map((c) => c.id).join(',') + ops.length;
    if (sig === this.commentSig) return;
    this.commentSig = sig;
    const pendingIds = new Set(ops.filter((o) => o.kind === 'comment.add').map((o) => o.payload.id));
    replace(this.commentsEl, card.comments.length ? card.comments.map((c) => h('li', {
      class: ['comment', pendingIds.has(c.id) && 'is-pending'], dataset: { comment: c.id, author: String(c.author) },
    },
    avatar(c.author, v.ws.nameOf(c.author), { size: 'sm' }),
    h('div', { class: 'comment-main' },
      h('div', { class: 'comment-head' },
        h('strong', null, v.ws.nameOf(c.author)),
        h('time', { class: 'muted', attrs: { datetime: new Date(c.ts).toISOString(), title: formatFull(c.ts) } }, formatTime(c.ts)),
        String(c.author) === v.me ? h('button', {
          type: 'button', class: 'btn btn-ghost btn-xs btn-danger-text', attrs: { 'aria-label': 'Delete comment' },
          on: { click: () => v.publish('comment.delete', { card: card.id, id: c.id }) },
        }, 'Delete') : null),
      h('p', { class: 'comment-text' }, c.text)))) : h('li', { class: 'muted comment-empty' }, 'No comments yet.'));
  }

  renderViewers() {
    if (this.closed) return;
    const v = this.view;
    const users = v.viewersOf(this.cardId);
    this.viewersEl.dataset.users = users.join(',');
    replace(this.viewersEl, users.length ? [
      icon('eye', 14),
      h('span', { class: 'avatar-stack' }, users.map((u) => h('span', { attrs: { title: v.ws.nameOf(u) } }, avatar(u, v.ws.nameOf(u), { size: 'xs' })))),
      h('span', null, `${users.map((u) => v.ws.nameOf(u)).join(', ')} ${users.length === 1 ? 'is' : 'are'} also viewing`),
    ] : null);
  }

  // ------------------------------------------------------------ activity

  async loadHistory() {
    if (this.historyLoading || !this.historyMore) return;
    this.historyLoading = true;
    this.moreBtn.disabled = true;
    try {
      const seqs = [...this.history.keys()];
      const before = seqs.length ? Math.min(...seqs) : undefined;
      const r = await this.view.api.history(this.view.roomId, { card: this.cardId, limit: HISTORY_PAGE, before });
      for (const ev of r?.events ?? []) if (eventIsAboutCard(ev, this.cardId)) this.history.set(ev.seq, ev);
      this.historyMore = Boolean(r?.has_more) && (r?.events?.length ?? 0) > 0;
    } catch {
      this.historyMore = false;
    } finally {
      this.historyLoading = false;
      this.moreBtn.disabled = false;
    }
    this.renderActivity();
  }

  renderActivity() {
    if (this.closed) return;
    const v = this.view;
    const state = v.model.state;
    const entries = new Map();
    for (const ev of this.history.values()) {
      entries.set(ev.seq, { seq: ev.seq, ts: ev.ts, author: ev.author, summary: describeEvent(ev, state, (u) => v.ws.nameOf(u)) });
    }
    for (const e of state.activity) {
      if (e.card === this.cardId) entries.set(e.seq, { ...e, summary: humanSummary(e, (u) => v.ws.nameOf(u)) });
    }
    const list = [...entries.values()].sort((a, b) => b.seq - a.seq);
    const sig = list.map((e) => e.seq).join(',');
    if (sig !== this.actSig) {
      this.actSig = sig;
      replace(this.activityEl, list.length ? list.map((e) => activityItem(v, e)) : h('li', { class: 'muted' }, 'Nothing yet.'));
    }
    this.moreBtn.hidden = !this.historyMore;
  }
}

/** One activity line: avatar, who, what, when. */
export function activityItem(view, e) {
  const name = view.ws.nameOf(e.author);
  return h('li', { class: 'activity-item', dataset: { seq: String(e.seq), author: String(e.author) } },
    avatar(e.author, name, { size: 'xs' }),
    h('div', { class: 'activity-text' },
      h('strong', { class: 'activity-author' }, name), ' ', h('span', { class: 'activity-summary' }, e.summary),
      h('time', { class: 'muted', attrs: { datetime: new Date(e.ts).toISOString(), title: formatFull(e.ts) } }, ` · ${formatTime(e.ts)}`)));
}

/**
 * "Changed by <name> meanwhile": shows their current value and mine, and
 * resolves 'theirs', 'mine' or null (dismissed).
 */
export async function showConflict(view, conflict, who) {
  const card = view.model.state.cards[conflict.card];
  const rows = [];
  for (const [f, mine] of Object.entries(conflict.fields)) {
    const theirs = card?.[f];
    const show = (x) => (Array.isArray(x) ? x.join(', ') : String(x ?? ''));
    rows.push(h('div', { class: 'conflict-field' },
      h('h3', null, f === 'description' ? 'Description' : f === 'title' ? 'Title' : 'Labels'),
      h('div', { class: 'conflict-cols' },
        h('div', { class: 'conflict-col' }, h('span', { class: 'conflict-tag' }, `Now (by ${who})`),
          h('pre', { class: 'conflict-value', attrs: { 'data-testid': 'conflict-theirs' } }, show(theirs) || '(empty)')),
        h('div', { class: 'conflict-col' }, h('span', { class: 'conflict-tag' }, 'Yours'),
          h('pre', { class: 'conflict-value', attrs: { 'data-testid': 'conflict-mine' } }, show(mine) || '(empty)')))));
  }
  return openModal({
    title: `Changed by ${who} meanwhile`,
    testid: 'conflict',
    host: view.dialog?.dlg ?? view.el,
    body: [
      h('p', null, card ? `${who} changed “${card.title}” while you were editing. Nothing was overwritten. Keep their version, or apply yours on top of it?` : 'The card was deleted meanwhile.'),
      rows,
    ],
    actions: card ? [
      { label: 'Keep theirs', value: 'theirs', testid: 'conflict-keep' },
      { label: 'Apply mine on top', value: 'mine', kind: 'primary', testid: 'conflict-apply' },
    ] : [{ label: 'Close', value: 'theirs' }],
  });
}
