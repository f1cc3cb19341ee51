/// <reference lib="dom" />
import type { InvitedMember, Member as User } from '../../../contract/index.js';
import { get, patch, post, query, type Page } from '../api.js';
import { clear, field, h, option } from '../dom.js';
import { dateTime, t } from '../i18n.js';
import { signedInAs, type Role } from '../session.js';
import { confirmDialog, errorBox, grantableRoles, Pager, roleName, secretField, type Cleanup } from '../ui.js';

const PAGE_SIZE = 50;

export function usersPage(main: HTMLElement): Cleanup {
  const abort = new AbortController();
  const pager = new Pager();
  const me = signedInAs();
  const mine: Role = me?.user.role ?? 'agent';
  const grantable = grantableRoles(mine);
  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' });
  const list = h('div', { 'aria-busy': 'true' });
  let generation = 0;

  // Invite: the answer carries the invitation token once; the link built from it is shown once.
  const email = h('input', { type: 'email', name: 'invite-email', required: true, autocomplete: 'off', spellcheck: 'false', dir: 'ltr' });
  const role = h('select', { name: 'invite-role' }, grantable.map((r) => option(r, roleName(r), r === 'agent')));
  const inviteResult = h('div', { class: 'invite-result', 'aria-live': 'polite' });
  const inviteButton = h('button', { type: 'submit' }, t('users.inviteSubmit'));
  const inviteForm = h('form', { class: 'inline', onsubmit: (e: Event) => {
    e.preventDefault();
    void inviteUser();
  } }, field(t('users.email'), email), field(t('users.role'), role), inviteButton);

  async function inviteUser(): Promise<void> {
    inviteButton.disabled = true;
    clear(inviteResult);
    try {
      const answer = await post<InvitedMember>('/users', { email: email.value.trim(), role: role.value });
      const link = `${location.origin}/#invite=${encodeURIComponent(answer.invite_token)}`;
      clear(inviteResult, h('div', { class: 'once', 'data-user-id': answer.user.id },
        h('p', { role: 'status' }, t('users.invited', { email: answer.user.email })),
        secretField(t('users.link'), link)));
      email.value = '';
      pager.reset();
      void load();
      inviteResult.querySelector<HTMLElement>('button.copy')?.focus();
    } catch (err) {
      clear(inviteResult, errorBox(err));
    } finally {
      inviteButton.disabled = false;
    }
  }

  async function load(): Promise<void> {
    const mineGen = ++generation;
    list.setAttribute('aria-busy', 'true');
    try {
      const page = await get<Page<User>>(`/users${query({ limit: PAGE_SIZE, cursor: pager.cursor })}`, abort.signal);
      if (mineGen !== generation) return;
      const users = pager.take(page);
      clear(list, users.length ? table(users) : h('p', {}, t('common.empty')), pager.controls(() => void load()));
    } catch (err) {
      if (!abort.signal.aborted) clear(list, errorBox(err));
    } finally {
      list.setAttribute('aria-busy', 'false');
    }
  }

  function table(users: User[]): HTMLTableElement {
    const cols = ['users.col.email', 'users.col.role', 'users.col.status', 'users.col.lastLogin', 'users.col.actions'] as const;
    return h('table', { class: 'users' },
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, t(c))))),
      h('tbody', {}, users.map(row)));
  }

  function row(u: User): HTMLTableRowElement {
    const self = u.id === me?.user.id;
    const status = u.disabled ? 'disabled' : u.status;
    // A role above one's own cannot be granted or taken away from here: shown, not offered.
    const roleCell = grantable.includes(u.role)
      ? roleSelect(u)
      : h('span', { 'data-role': u.role }, roleName(u.role));
    const toggle = self ? null : h('button', {
      type: 'button',
      class: u.disabled ? 'secondary enable' : 'danger disable',
      'aria-label': t(u.disabled ? 'users.enableLabel' : 'users.disableLabel', { email: u.email }),
      onclick: () => void setDisabled(u, !u.disabled),
    }, t(u.disabled ? 'users.enable' : 'users.disable'));
    return h('tr', { 'data-user-id': u.id, 'data-email': u.email },
      h('th', { scope: 'row' }, h('span', { dir: 'ltr' }, u.email), self ? h('span', { class: 'muted' }, ` ${t('users.you')}`) : null),
      h('td', {}, roleCell),
      h('td', {}, h('span', { class: `badge u-${status}`, 'data-status': status }, t(`users.status.${status}`))),
      h('td', {}, u.status === 'invited' ? '—' : dateTime(u.last_login_at)),
      h('td', { class: 'actions' }, toggle));
  }

  function roleSelect(u: User): HTMLSelectElement {
    const select = h('select', { name: `role-${u.id}`, 'aria-label': t('users.roleOf', { email: u.email }), onchange: () => void changeRole(u, select) },
      grantable.map((r) => option(r, roleName(r), r === u.role)));
    return select;
  }

  async function changeRole(u: User, select: HTMLSelectElement): Promise<void> {
    const next = select.value as Role;
    select.disabled = true;
    try {
      const updated = await patch<User>(`/users/${u.id}`, { role: next });
      u.role = updated.role;
      clear(feedback, h('p', { role: 'status' }, t('users.roleChanged', { email: u.email, role: roleName(updated.role) })));
    } catch (err) {
      // Refused (the last owner, a role above one's own): the select shows what is true again.
      select.value = u.role;
      clear(feedback, errorBox(err));
    } finally {
      select.disabled = false;
      select.focus();
    }
  }

  async function setDisabled(u: User, disabled: boolean): Promise<void> {
    if (disabled && !(await confirmDialog(t('users.confirmDisable', { email: u.email })))) return;
    try {
      const updated = await patch<User>(`/users/${u.id}`, { disabled });
      clear(feedback, h('p', { role: 'status' }, t(updated.disabled ? 'users.disabled' : 'users.enabled', { email: u.email })));
      await load();
      list.querySelector<HTMLElement>(`tr[data-user-id="${u.id}"] .actions button`)?.focus();
    } catch (err) {
      clear(feedback, errorBox(err));
    }
  }

  clear(main,
    h('h1', { tabindex: -1 }, t('users.title')),
    h('section', { class: 'invite-user' }, h('h2', {}, t('users.invite')), inviteForm, inviteResult),
    h('section', {}, h('h2', {}, t('users.list')), feedback, list),
  );
  void load();
  return () => {
    generation += 1;
    abort.abort();
  };
}
