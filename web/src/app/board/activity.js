// activity.js — the board's activity side panel: the state's last 100
// activity entries live (the reducer's summaries), and older events from
// the history API on demand.

import { h, icon, replace } from '../dom.js';
import { activityItem } from './dialog.js';
import { describeEvent, humanSummary } from './model.js';

const PAGE = 50;

export class ActivityPanel {
  constructor(view) {
    this.view = view;
    this.open = false;
    this.older = new Map(); // seq -> entry from history
    this.more = true;
    this.loading = false;
    this.list = h('ol', { class: 'activity-list', attrs: { 'aria-label': 'Board activity', 'data-testid': 'board-activity' } });
    this.moreBtn = h('button', {
      type: 'button', class: 'btn btn-ghost btn-sm', attrs: { 'data-testid': 'activity-more' },
      on: { click: () => this.loadOlder() },
    }, 'Load older');
    this.el = h('aside', { class: 'board-activity', id: 'board-activity', hidden: true, attrs: { 'aria-label': 'Activity' } },
      h('div', { class: 'board-activity-head' },
        h('h2', null, 'Activity'),
        h('button', {
          type: 'button', class: 'btn btn-ghost btn-icon btn-sm', attrs: { 'aria-label': 'Close activity' },
          on: { click: () => view.toggleActivity(false) },
        }, icon('x', 16))),
      this.list, h('div', { class: 'board-activity-foot' }, this.moreBtn));
  }

  setOpen(open) {
    this.open = open;
    this.el.hidden = !open;
    if (open) this.render();
  }

  reset() {
    this.older.clear();
    this.more = true;
    if (this.open) this.render();
  }

  onEvent() {
    if (this.open) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.render(), 50);
    }
  }

  async loadOlder() {
    if (this.loading || !this.more) return;
    this.loading = true;
    this.moreBtn.disabled = true;
    const v = this.view;
    const act = v.model.state.activity;
    const seqs = [...this.older.keys(), ...act.map((e) => e.seq)];
    const before = seqs.length ? Math.min(...seqs) : v.model.seq + 1;
    try {
      if (before > 1) {
        const r = await v.api.history(v.roomId, { before, limit: PAGE });
        const evs = r?.events ?? [];
        for (const ev of evs) {
          this.older.set(ev.seq, { seq: ev.seq, ts: ev.ts, author: ev.author, summary: describeEvent(ev, v.model.state, (u) => v.ws.nameOf(u)) });
        }
        this.more = Boolean(r?.has_more) && evs.length > 0;
      } else {
        this.more = false;
      }
    } catch (err) {
      v.showError(`Could not load older activity: ${err?.message ?? err}`);
    } finally {
      this.loading = false;
      this.moreBtn.disabled = false;
    }
    this.render();
  }

  render() {
    if (!this.open) return;
    const v = this.view;
    const entries = new Map(this.older);
    for (const e of v.model.state.activity) entries.set(e.seq, { ...e, summary: humanSummary(e, (u) => v.ws.nameOf(u)) });
    const list = [...entries.values()].sort((a, b) => b.seq - a.seq);
    replace(this.list, list.length ? list.map((e) => activityItem(v, e)) : h('li', { class: 'muted' }, 'No activity yet.'));
    this.moreBtn.hidden = !this.more || list.length === 0;
  }
}
