// view.js — a whiteboard room (placeholder until the whiteboard app lands).

import { h } from '../dom.js';
import { emptyState } from '../ui.js';

export function whiteboardView(session, ws, roomId, scope) {
  void session; void scope;
  const room = ws.room(roomId);
  return h('div', { class: 'pane pane-center wb-app', dataset: { room: roomId } }, emptyState({ iconName: 'pen', title: room?.name ?? roomId, text: 'Loading whiteboard' }));
}
