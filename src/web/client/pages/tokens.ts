/// <reference lib="dom" />
import type { ApiToken, CreatedApiToken } from '../../../contract/index.js';
import { del, get, post, query, type Page } from '../api.js';
import { clear, field, h, option } from '../dom.js';
import { dateTime, t } from '../i18n.js';
import { signedInAs, type Role } from '../session.js';
import { confirmDialog, errorBox, grantableRoles, Pager, roleName, secretField, type Cleanup } from '../ui.js';

const PAGE_SIZE = 50;

export function tokensPage(main: HTMLElement): Cleanup {
  const abort = new AbortController();
  const pager = new Pager();
  const mine: Role = signedInAs()?.user.role ?? 'agent';
  const feedback = h('div', { class: 'feedback', 'aria-live': 'polite' });
  const list = h('div', { 'aria-busy': 'true' });
  let generation = 0;

  // No role chosen: the API gives the token its creator's role.
  const name = h('input', { name: 'token-name', required: true, maxlength: 100, autocomplete: 'off' });
  const role = h('select', { name: 'token-role' }, option('', t('tokens.roleMine', { role: roleName(mine) }), true),
    grantableRoles(mine).map((r) => option(r, roleName(r))));
  const created = h('div', { class: 'token-result', 'aria-live': 'polite' });
  const createButton = h('button', { type: 'submit' }, t('tokens.submit'));
  const form = h('form', { class: 'inline', onsubmit: (e: Event) => {
    e.preventDefault();
    void create();
  } }, field(t('tokens.name'), name), field(t('tokens.role'), role), createButton);

  async function create(): Promise<void> {
    createButton.disabled = true;
    clear(created);
    try {
      const answer = await post<CreatedApiToken>('/tokens', { name: name.value.trim(), ...(role.value ? { role: role.value } : {}) });
      clear(created, h('div', { class: 'once', 'data-token-id': answer.id },
        h('p', { role: 'status' }, t('tokens.created', { name: answer.name })),
        secretField(t('tokens.value'), answer.token)));
      name.value = '';
      pager.reset();
      void load();
      created.querySelector<HTMLElement>('button.copy')?.focus();
    } catch (err) {
      clear(created, errorBox(err));
    } finally {
      createButton.disabled = false;
    }
  }

  async function load(): Promise<void> {
    const mineGen = ++generation;
    list.setAttribute('aria-busy', 'true');
    try {
      const page = await get<Page<ApiToken>>(`/tokens${query({ limit: PAGE_SIZE, cursor: pager.cursor })}`, abort.signal);
      if (mineGen !== generation) return;
      const tokens = pager.take(page);
      clear(list, tokens.length ? table(tokens) : h('p', {}, t('common.empty')), pager.controls(() => void load()));
    } catch (err) {
      if (!abort.signal.aborted) clear(list, errorBox(err));
    } finally {
      list.setAttribute('aria-busy', 'false');
    }
  }

  function table(tokens: ApiToken[]): HTMLTableElement {
    const cols = ['tokens.col.name', 'tokens.col.role', 'tokens.col.user', 'tokens.col.created', 'tokens.col.lastUsed', 'tokens.col.actions'] as const;
    return h('table', { class: 'tokens' },
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, t(c))))),
      h('tbody', {}, tokens.map((tok) => h('tr', { 'data-token-id': tok.id },
        h('th', { scope: 'row' }, tok.name),
        h('td', { 'data-role': tok.role }, roleName(tok.role)),
        h('td', {}, h('span', { dir: 'ltr' }, tok.user_email)),
        h('td', {}, dateTime(tok.created_at)),
        h('td', {}, dateTime(tok.last_used_at)),
        h('td', { class: 'actions' }, h('button', {
          type: 'button', class: 'danger revoke', 'aria-label': t('tokens.revokeLabel', { name: tok.name }), onclick: () => void revoke(tok),
        }, t('tokens.revoke')))))));
  }

  async function revoke(tok: ApiToken): Promise<void> {
    if (!(await confirmDialog(t('tokens.confirmRevoke', { name: tok.name })))) return;
    try {
      await del(`/tokens/${tok.id}`);
      clear(feedback, h('p', { role: 'status' }, t('tokens.revoked', { name: tok.name })));
      await load();
      main.querySelector<HTMLElement>('h1')?.focus();
    } catch (err) {
      clear(feedback, errorBox(err));
    }
  }

  clear(main,
    h('h1', { tabindex: -1 }, t('tokens.title')),
    h('section', { class: 'create-token' }, h('h2', {}, t('tokens.create')), h('p', { class: 'muted' }, t('tokens.help')), form, created),
    h('section', {}, h('h2', {}, t('tokens.list')), feedback, list),
  );
  void load();
  return () => {
    generation += 1;
    abort.abort();
  };
}
