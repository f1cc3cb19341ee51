/// <reference lib="dom" />
import type { AuditItem as AuditEntry } from '../../../contract/index.js';
import { get, query, type Page } from '../api.js';
import { clear, field, h, option } from '../dom.js';
import { dateTime, t, tn, type Key } from '../i18n.js';
import { errorBox, type Cleanup } from '../ui.js';

/** The actions the filter offers; an entry with another action still shows, under its code. */
const ACTIONS = [
  'auth.login', 'auth.login_failed', 'auth.logout',
  'job.accepted', 'job.pause', 'job.resume', 'job.cancel',
  'user.invite', 'user.accept_invite', 'user.update', 'user.create',
  'token.create', 'token.revoke', 'settings.update', 'dnc.remove',
  'business.create', 'business.update', 'channel.update',
] as const;
const TARGETS = ['job', 'user', 'token', 'business', 'lead', 'channel', 'settings'] as const;
const PAGE_SIZE = 50;

const known = <T extends string>(list: readonly T[], v: string | null): v is T => v !== null && (list as readonly string[]).includes(v);

export function auditPage(main: HTMLElement, params: URLSearchParams): Cleanup {
  const abort = new AbortController();
  const action = h('select', { name: 'action' }, option('', t('common.any')),
    ACTIONS.map((a) => option(a, t(`action.${a}` as Key), params.get('action') === a)));
  const body = h('tbody');
  const tableBox = h('div', { 'aria-busy': 'true' });
  const shown = h('p', { class: 'muted', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', class: 'secondary more', hidden: true, onclick: () => void load(false) }, t('common.more'));
  const problem = h('div');
  let cursor: string | null = null;
  let count = 0;
  let generation = 0;

  /** `fresh`: from the newest entry again (a new filter); otherwise the next page, appended. */
  async function load(fresh: boolean): Promise<void> {
    const mine = ++generation;
    if (fresh) cursor = null;
    tableBox.setAttribute('aria-busy', 'true');
    more.disabled = true;
    clear(problem);
    try {
      const page = await get<Page<AuditEntry>>(`/audit${query({ action: action.value, limit: PAGE_SIZE, cursor })}`, abort.signal);
      if (mine !== generation) return;
      if (fresh) {
        body.replaceChildren();
        count = 0;
      }
      const rows = page.items.map(entryRow);
      body.append(...rows);
      count += rows.length;
      cursor = page.next_cursor;
      more.hidden = cursor === null;
      shown.textContent = tn('audit.shown', count);
      clear(tableBox, count ? table() : h('p', {}, t('common.empty')));
      // Keyboard users who asked for more continue at the first new entry.
      if (!fresh) rows[0]?.querySelector<HTMLElement>('th')?.focus();
    } catch (err) {
      if (!abort.signal.aborted) clear(problem, errorBox(err));
    } finally {
      more.disabled = false;
      tableBox.setAttribute('aria-busy', 'false');
    }
  }

  function table(): HTMLTableElement {
    const cols = ['audit.col.at', 'audit.col.user', 'audit.col.action', 'audit.col.target', 'audit.col.details', 'audit.col.ip'] as const;
    return h('table', { class: 'audit' }, h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, t(c))))), body);
  }

  const filters = h('form', { class: 'filters', 'aria-label': t('leads.filters'), onsubmit: (e: Event) => {
    e.preventDefault();
    void load(true);
  } }, field(t('audit.action'), action), h('button', { type: 'submit' }, t('common.apply')));

  clear(main,
    h('h1', { tabindex: -1 }, t('audit.title')),
    h('p', { class: 'muted' }, t('audit.help')),
    filters, problem, tableBox, shown, more,
  );
  void load(true);
  return () => {
    generation += 1;
    abort.abort();
  };
}

function entryRow(e: AuditEntry): HTMLTableRowElement {
  return h('tr', { 'data-audit-id': e.id, 'data-action': e.action },
    h('th', { scope: 'row', tabindex: -1 }, h('time', { datetime: e.at }, dateTime(e.at))),
    h('td', {}, e.user_email ? h('span', { dir: 'ltr' }, e.user_email) : h('span', { class: 'muted' }, t('audit.system'))),
    h('td', {}, known(ACTIONS, e.action) ? t(`action.${e.action}`) : e.action, ' ', h('code', { class: 'muted' }, e.action)),
    h('td', {}, target(e)),
    h('td', { class: 'details' }, h('span', { dir: 'ltr' }, detailsText(e.details))),
    h('td', {}, e.ip ? h('span', { dir: 'ltr' }, e.ip) : ''),
  );
}

function target(e: AuditEntry): HTMLElement | string {
  if (e.target_type === null) return '';
  const label = known(TARGETS, e.target_type) ? t(`target.${e.target_type}`) : e.target_type;
  if (e.target_id === null) return label;
  if (e.target_type === 'job') return h('a', { href: `#/jobs?id=${encodeURIComponent(String(e.target_id))}` }, `${label} #${e.target_id}`);
  return `${label} #${e.target_id}`;
}

/** `{operation: 'delete_leads_bulk', count: 50}` → `operation: delete_leads_bulk · count: 50`. */
function detailsText(details: unknown): string {
  if (details === null || details === undefined) return '';
  if (typeof details !== 'object') return String(details);
  return Object.entries(details as Record<string, unknown>)
    .map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join(' · ');
}
