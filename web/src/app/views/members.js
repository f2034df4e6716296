// members.js — who is in the workspace, inviting people, roles, removal.
//
// Controls are offered where the role rules (docs/api.md, "Roles") may allow
// the action; the server decides, and a refusal is shown as a clear message.

import { h, icon, replace } from '../dom.js';
import { describeError } from '../errors.js';
import { avatar } from '../format.js';
import { navigate, paths } from '../router.js';
import { ROLE_LABEL, alertBox, busy, roleBadge, toast } from '../ui.js';

const ARM_MS = 4000;

export function membersView(session, ws, scope) {
  const alert = alertBox();
  const notice = alertBox('success');
  const username = h('input', { id: 'invite-username', name: 'username', placeholder: 'username', autocomplete: 'off', attrs: { maxlength: 32 } });
  const role = h('select', { id: 'invite-role', name: 'role' },
    h('option', { value: 'member' }, 'Member'),
    h('option', { value: 'admin' }, 'Admin'));
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, icon('plus', 16), 'Invite');
  const roleHint = h('p', { class: 'field-hint' });

  const form = h('form', {
    class: 'inline-form', attrs: { 'aria-label': 'Invite a member' },
    on: {
      submit: async (e) => {
        e.preventDefault();
        alert.clear();
        notice.clear();
        const name = username.value.trim().replace(/^@/, '').toLowerCase();
        if (!name) {
          alert.show('Enter the username of the person to invite.');
          username.focus();
          return;
        }
        try {
          await busy(submit, session.api.addMember(ws.id, name, role.value));
          username.value = '';
          notice.show(`@${name} was added as ${ROLE_LABEL[role.value].toLowerCase()}. They can open the workspace now.`);
          await ws.reloadMembers();
        } catch (err) {
          alert.show(describeError(err, 'invite'));
        }
      },
    },
  },
  h('label', { htmlFor: 'invite-username', class: 'sr-only' }, 'Username'), username,
  h('label', { htmlFor: 'invite-role', class: 'sr-only' }, 'Role'), role,
  submit);

  const table = h('ul', { class: 'member-list', attrs: { 'aria-label': 'Members' } });
  const armedUntil = new Map(); // user id -> until when its remove button asks to confirm
  const disarmTimers = new Map(); // user id -> its disarm timer
  const disarmLater = (uid, ms) => {
    clearTimeout(disarmTimers.get(uid));
    disarmTimers.set(uid, setTimeout(() => {
      disarmTimers.delete(uid);
      if ((armedUntil.get(uid) ?? 0) > Date.now()) return;
      armedUntil.delete(uid);
      render();
    }, ms + 20));
  };
  scope.add(() => {
    for (const t of disarmTimers.values()) clearTimeout(t);
    disarmTimers.clear();
  });

  const act = async (button, action, fn) => {
    alert.clear();
    notice.clear();
    try {
      await busy(button, fn());
      return true;
    } catch (err) {
      alert.show(describeError(err, action));
      return false;
    }
  };

  const row = (m) => {
    const me = ws.role;
    const isSelf = String(m.user_id) === session.userId;
    let roleCtl;
    const canSetRole = me === 'owner' || (me === 'admin' && isSelf);
    if (canSetRole) {
      const options = me === 'owner' ? ['owner', 'admin', 'member'] : ['admin', 'member'];
      roleCtl = h('select', {
        class: 'role-select',
        attrs: { 'aria-label': `Role of ${m.display_name || m.username}` },
        on: {
          change: async (e) => {
            const sel = e.target;
            const ok = await act(sel, 'role', () => session.api.setRole(ws.id, m.user_id, sel.value));
            if (!ok) sel.value = m.role;
            else toast(`${m.display_name || m.username} is now ${ROLE_LABEL[sel.value].toLowerCase()}.`, 'success');
            await ws.reloadMembers().catch(() => {});
          },
        },
      }, options.map((r) => h('option', { value: r, selected: r === m.role }, ROLE_LABEL[r])));
    } else {
      roleCtl = roleBadge(m.role);
    }
    const canRemove = isSelf || me === 'owner' || (me === 'admin' && m.role === 'member');
    let removeBtn = null;
    if (canRemove) {
      removeBtn = h('button', {
        type: 'button', class: 'btn btn-ghost btn-sm btn-danger-text',
        attrs: { 'aria-label': isSelf ? 'Leave this workspace' : `Remove ${m.display_name || m.username}` },
      }, isSelf ? 'Leave' : 'Remove');
      // Armed ("Confirm remove") for a few seconds. Kept by user id, not on
      // the button, so a re-render (presence, member list) keeps it.
      const uid = String(m.user_id);
      const label = (on) => {
        removeBtn.textContent = on ? (isSelf ? 'Confirm leave' : 'Confirm remove') : (isSelf ? 'Leave' : 'Remove');
        removeBtn.classList.toggle('is-armed', on);
      };
      if ((armedUntil.get(uid) ?? 0) > Date.now()) label(true);
      removeBtn.addEventListener('click', async () => {
        if ((armedUntil.get(uid) ?? 0) <= Date.now()) {
          armedUntil.set(uid, Date.now() + ARM_MS);
          label(true);
          disarmLater(uid, ARM_MS);
          return;
        }
        armedUntil.delete(uid);
        clearTimeout(disarmTimers.get(uid));
        disarmTimers.delete(uid);
        const ok = await act(removeBtn, 'remove', () => session.api.removeMember(ws.id, m.user_id));
        label(false);
        if (!ok) return;
        if (isSelf) {
          toast('You left the workspace.', 'success');
          navigate(paths.workspaces(), { replace: true });
          return;
        }
        notice.show(`${m.display_name || m.username} was removed.`);
        await ws.reloadMembers().catch(() => {});
      });
    }
    const online = ws.online().has(String(m.user_id));
    return h('li', { class: 'member-row', dataset: { user: String(m.user_id), username: m.username } },
      avatar(m.user_id, m.display_name || m.username, { online }),
      h('div', { class: 'member-name' },
        h('strong', null, m.display_name || m.username, isSelf ? h('span', { class: 'muted' }, ' (you)') : null),
        h('span', { class: 'muted' }, `@${m.username}`, online ? h('span', { class: 'online-text' }, ' \u00b7 online') : null)),
      h('div', { class: 'member-actions' }, roleCtl, removeBtn));
  };

  const render = () => {
    replace(table, ws.members.map(row));
    const me = ws.role;
    roleHint.textContent = me === 'member'
      ? 'Members cannot invite people: ask an owner or admin.'
      : me === 'admin'
        ? 'As an admin you can invite members; only owners can add admins.'
        : 'New members get access to every room at once.';
  };
  scope.add(ws.on('members', render));
  scope.add(ws.on('presence', render));
  scope.add(ws.on('role', render));
  render();
  ws.reloadMembers().catch(() => {});

  return h('div', { class: 'pane pane-scroll' },
    h('div', { class: 'page-body' },
      h('div', { class: 'page-head' },
        h('div', null,
          h('h1', null, 'Members'),
          h('p', { class: 'muted' }, 'Owners manage everything, admins manage members, members chat and create rooms.'))),
      alert.el,
      notice.el,
      h('section', { class: 'card' },
        h('h2', { class: 'card-title' }, 'Invite someone'),
        form,
        roleHint),
      h('section', { class: 'card card-flush' }, table)));
}
