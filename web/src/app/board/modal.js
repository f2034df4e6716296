// modal.js — small modal dialogs of the board app (confirm, prompt, and
// any body with a row of actions), built on <dialog> so focus is trapped
// and Escape closes them.

import { h } from '../dom.js';

/**
 * Opens a modal; resolves the chosen action's value (null when dismissed).
 * @param {object} o
 * @param {string} o.title
 * @param {Node|Node[]|string} [o.body]
 * @param {{label: string, value: any, kind?: string, testid?: string}[]} o.actions
 * @param {string} [o.testid]
 * @param {HTMLElement} [o.host] where the dialog is attached (default: body)
 * @param {() => any} [o.read] reads the value for actions with value === 'read'
 */
export function openModal({ title, body, actions, testid, host, read, danger = false }) {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v) => {
      if (done) return;
      done = true;
      if (dlg.open) dlg.close();
      dlg.remove();
      resolve(v);
    };
    const btns = actions.map((a) => h('button', {
      type: a.submit ? 'submit' : 'button',
      class: ['btn', a.kind === 'primary' ? 'btn-primary' : a.kind === 'danger' ? 'btn-danger' : 'btn-secondary'],
      attrs: { 'data-testid': a.testid, 'data-value': typeof a.value === 'string' ? a.value : undefined },
      on: a.submit ? undefined : { click: () => finish(a.value === 'read' ? read?.() : a.value) },
    }, a.label));
    const titleId = `modal-title-${Math.random().toString(36).slice(2, 9)}`;
    const form = h('form', { class: 'modal-form', method: 'dialog' },
      h('h2', { id: titleId, class: 'modal-title' }, title),
      h('div', { class: 'modal-body' }, body ?? null),
      h('div', { class: 'modal-actions' }, btns));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const a = actions.find((x) => x.submit);
      finish(a ? (a.value === 'read' ? read?.() : a.value) : null);
    });
    const dlg = h('dialog', {
      class: ['modal', danger && 'modal-danger'],
      attrs: { 'aria-labelledby': titleId, 'data-testid': testid },
    }, form);
    dlg.addEventListener('cancel', (e) => { e.preventDefault(); finish(null); });
    dlg.addEventListener('close', () => finish(null));
    (host ?? document.body).append(dlg);
    dlg.showModal();
    const first = dlg.querySelector('input, textarea, select') ?? btns[btns.length - 1];
    first?.focus();
  });
}

/** Asks a yes/no question; resolves true when confirmed. */
export async function confirmModal({ title, text, confirm = 'Delete', host, testid = 'confirm' }) {
  const v = await openModal({
    title, host, testid, danger: true,
    body: h('p', null, text),
    actions: [
      { label: 'Cancel', value: false },
      { label: confirm, value: true, kind: 'danger', testid: 'confirm-ok' },
    ],
  });
  return v === true;
}

/** Asks for one line of text; resolves the trimmed text or null. */
export async function promptModal({ title, label, value = '', maxlength = 100, ok = 'Save', host, testid = 'prompt' }) {
  const input = h('input', { type: 'text', value, required: true, attrs: { maxlength, 'aria-label': label } });
  const v = await openModal({
    title, host, testid,
    body: h('label', { class: 'field' }, h('span', null, label), input),
    actions: [
      { label: 'Cancel', value: null },
      { label: ok, value: 'read', kind: 'primary', submit: true, testid: 'prompt-ok' },
    ],
    read: () => input.value.trim(),
  });
  return v ? v : null;
}
