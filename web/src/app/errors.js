// errors.js — turns API errors into sentences a person can act on.

const ROLE_NOTES = {
  invite: 'Only owners and admins can invite people; admins can invite members but not admins.',
  role: 'Only owners can change other people\u2019s roles; admins can only step down to member themselves.',
  remove: 'Owners can remove anyone; admins can remove members; members can only leave.',
  createRoom: 'You need to be a member of this workspace to create rooms.',
};

/**
 * A message for an error from the API (ApiError {status, code, message,
 * field}) or the network. action names what was tried, for role errors.
 */
export function describeError(err, action) {
  if (!err) return 'Something went wrong.';
  const status = err.status ?? 0;
  const code = err.code ?? '';
  if (status === 0 || err.name === 'TypeError') return 'Could not reach the server. Check your connection and try again.';
  if (code === 'last_owner') return 'A workspace needs at least one owner. Make someone else an owner first.';
  if (status === 403 || code === 'forbidden') {
    const note = ROLE_NOTES[action];
    return note ? `Your role does not allow this. ${note}` : (err.message || 'You are not allowed to do that.');
  }
  if (status === 429) return err.message || 'Too many attempts. Wait a moment and try again.';
  if (status === 409 && code === 'conflict') {
    if (action === 'invite') return 'That person is already a member of this workspace.';
    if (err.field === 'username') return 'That username is taken. Try another one.';
  }
  if (status === 404 && action === 'invite') return 'No user with that username.';
  if (status === 401 && action === 'login') return 'Wrong username or password.';
  if (status === 409 && code === 'archived') return 'This room is archived: it can be read but not changed.';
  if (status === 503) return 'The service is busy or restarting. Try again in a moment.';
  if (err.message) return capitalise(err.message.endsWith('.') ? err.message : `${err.message}.`);
  return 'Something went wrong.';
}

function capitalise(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
