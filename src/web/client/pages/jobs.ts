/// <reference lib="dom" />
import { get, query, type Job, type Page } from '../api.js';
import { clear, field, h, option } from '../dom.js';
import { t, type Key } from '../i18n.js';
import { errorBox, JobRow, jobTable, keepLive, Pager, type Cleanup } from '../ui.js';

const STATUSES = ['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const;
const TYPES = ['delete_leads_bulk', 'update_leads_bulk', 'delete_imported_leads', 'restore_leads', 'import_leads', 'enqueue_outbound_calls', 'broadcast_whatsapp', 'recording_download', 'delete_receipts_all'];
const PAGE_SIZE = 20;

export function jobsPage(main: HTMLElement, params: URLSearchParams): Cleanup {
  const pager = new Pager();
  const status = h('select', { name: 'status' }, option('', t('common.any')), STATUSES.map((s) => option(s, t(`status.${s}` as Key), params.get('status') === s)));
  const type = h('select', { name: 'type' }, option('', t('common.any')), TYPES.map((ty) => option(ty, ty, params.get('type') === ty)));
  const list = h('div', { 'aria-live': 'polite', 'aria-busy': 'true' });
  let stopLive: Cleanup = () => undefined;
  let generation = 0;

  async function load(): Promise<void> {
    const mine = ++generation;
    stopLive();
    list.setAttribute('aria-busy', 'true');
    try {
      const page = await get<Page<Job>>(`/jobs${query({ limit: PAGE_SIZE, cursor: pager.cursor, status: status.value, type: type.value })}`);
      if (mine !== generation) return;
      const rows = pager.take(page).map((j) => new JobRow(j));
      clear(list, rows.length ? jobTable(rows) : h('p', {}, t('common.empty')), pager.controls(() => void load()));
      stopLive = keepLive(rows);
    } catch (err) {
      clear(list, errorBox(err));
    } finally {
      list.setAttribute('aria-busy', 'false');
    }
  }

  const filters = h('form', { class: 'filters', 'aria-label': t('leads.filters'), onsubmit: (e: Event) => {
    e.preventDefault();
    pager.reset();
    void load();
  } }, field(t('jobs.status'), status), field(t('jobs.type'), type), h('button', { type: 'submit' }, t('common.apply')));

  // `#/jobs?id=N` (the gate's message links the blocking job): that job first, live.
  const focus = h('div', { class: 'focus-job' });
  let stopFocus: Cleanup = () => undefined;
  const focusId = Number(params.get('id'));
  if (Number.isInteger(focusId) && focusId > 0) {
    get<Job>(`/jobs/${focusId}`).then((job) => {
      if (generation < 0) return;
      const row = new JobRow(job);
      clear(focus, jobTable([row]));
      stopFocus = keepLive([row], 1);
    }, (err: unknown) => clear(focus, errorBox(err)));
  }

  clear(main, h('h1', { tabindex: -1 }, t('jobs.title')), focus, filters, list);
  void load();
  return () => {
    generation = -1;
    stopLive();
    stopFocus();
  };
}
