// view.js — a kanban board room (placeholder until the board app lands).

import { h } from '../dom.js';
import { emptyState } from '../ui.js';

export function boardView(session, ws, roomId, scope) {
  void session; void scope;
  const room = ws.room(roomId);
  return h('div', { class: 'pane pane-center board-app', dataset: { room: roomId } }, emptyState({ iconName: 'board', title: room?.name ?? roomId, text: 'Loading board' }));
}
