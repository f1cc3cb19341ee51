/// <reference lib="dom" />
import type { Accepted, GmailConnection, GmailConnectStarted, Receipt } from '../../../contract/index.js';
import { ApiError, del, get, post, query, request, watchJob, type Job, type Page } from '../api.js';
import { clear, h } from '../dom.js';
import { currentLang, dateTime, num, t, tn } from '../i18n.js';
import { can } from '../session.js';
import { confirmDialog, errorBox, JobRow, jobTable, Pager, type Cleanup } from '../ui.js';

/** Counting for "delete all" stops here: beyond it the confirmation says "more than". */
const COUNT_PAGES = 20;
const COUNT_PAGE = 500;

/**
 * Receipts (issue 17): the list (typed in by hand or imported from Gmail, with the mail's PDF),
 * "delete all" behind a confirmation that counts them, and the Gmail connection card: status,
 * last sync, connect (Google's consent, then back here), sync now (a job with its live bar) and
 * disconnect. Agents read; connecting, syncing and deleting are for admins and owners (the API
 * refuses agents anyway).
 */
export function receiptsPage(main: HTMLElement, params: URLSearchParams): Cleanup {
  const abort = new AbortController();
  const admin = can('admin');
  const started: JobRow[] = [];
  const ticker = setInterval(() => started.forEach((r) => r.tick()), 1000);

  // ---- Gmail connection card --------------------------------------------------------------------
  const card = h('section', { class: 'gmail-card', 'aria-labelledby': 'gmail-title', 'aria-busy': 'true' });
  const cardStatus = h('div', { class: 'gmail-feedback', 'aria-live': 'polite' },
    params.get('gmail') === 'connected' ? h('p', { role: 'status', class: 'saved' }, t('receipts.gmail.justConnected')) : null);
  const jobsBox = h('div', { class: 'started' });

  async function loadCard(): Promise<void> {
    try {
      const g = await get<GmailConnection>('/integrations/gmail', abort.signal);
      drawCard(g);
    } catch (err) {
      if (!abort.signal.aborted) clear(card, h('h2', { id: 'gmail-title' }, t('receipts.gmail.title')), errorBox(err));
    }
    card.setAttribute('aria-busy', 'false');
  }

  function drawCard(g: GmailConnection): void {
    const state = g.status === 'reauth_required' ? 'reauth_required' : g.connected ? 'connected' : 'disconnected';
    card.dataset.state = state;
    const statusLine = state === 'connected'
      ? h('p', { class: 'gmail-status' }, t('receipts.gmail.connected'), ' ', h('strong', { dir: 'ltr', class: 'gmail-email' }, g.email ?? ''))
      : state === 'reauth_required'
        ? h('p', { class: 'gmail-status error', role: 'alert' }, t('receipts.gmail.reauth', { email: g.email ?? '' }))
        : h('p', { class: 'gmail-status' }, t('receipts.gmail.none'));
    const connectLabel = state === 'disconnected' ? t('receipts.gmail.connect') : state === 'reauth_required' ? t('receipts.gmail.reconnect') : t('receipts.gmail.switch');
    clear(card,
      h('h2', { id: 'gmail-title' }, t('receipts.gmail.title')),
      statusLine,
      state === 'disconnected' ? null : h('p', { class: 'gmail-last-sync' }, t('receipts.gmail.lastSync', { when: dateTime(g.last_sync_at) })),
      g.last_error ? h('p', { class: 'gmail-last-error error' }, t('receipts.gmail.lastError', { error: g.last_error })) : null,
      admin
        ? h('div', { class: 'bulk' },
          h('button', { type: 'button', class: state === 'connected' ? 'secondary gmail-connect' : 'primary gmail-connect', onclick: (e: Event) => void connect(e.currentTarget as HTMLButtonElement) }, connectLabel),
          state === 'connected' ? h('button', { type: 'button', class: 'primary gmail-sync', onclick: (e: Event) => void syncNow(e.currentTarget as HTMLButtonElement) }, t('receipts.gmail.sync')) : null,
          state === 'disconnected' ? null : h('button', { type: 'button', class: 'secondary danger gmail-disconnect', onclick: () => void disconnect(g.email ?? '') }, t('receipts.gmail.disconnect')))
        : h('p', { class: 'muted' }, t('receipts.gmail.agent')),
      cardStatus,
      jobsBox);
  }

  async function connect(button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    clear(cardStatus, h('p', { role: 'status' }, t('receipts.gmail.redirecting')));
    try {
      const { auth_url: url } = await post<GmailConnectStarted>('/integrations/gmail/connect', {});
      // Google's consent page; Google sends the browser back to our callback, then here.
      location.assign(url);
    } catch (err) {
      clear(cardStatus, errorBox(err));
      button.disabled = false;
    }
  }

  async function syncNow(button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    clear(cardStatus);
    try {
      const accepted = await post<Accepted>('/receipts/sync', {}, crypto.randomUUID());
      clear(cardStatus, h('p', { role: 'status' }, t('receipts.gmail.syncStarted', { id: accepted.job_id }), ' ', h('a', { href: '#/jobs' }, t('leads.openJobs'))));
      await track(accepted.job_id);
    } catch (err) {
      clear(cardStatus, errorBox(err));
      // A sync already running (a periodic one, or another person's): show its progress here too.
      if (err instanceof ApiError && err.code === 'operation_in_progress' && typeof err.details.job_id === 'number') await track(err.details.job_id);
    } finally {
      button.disabled = false;
    }
  }

  async function disconnect(email: string): Promise<void> {
    if (!(await confirmDialog(t('receipts.gmail.confirmDisconnect', { email })))) return;
    try {
      await del('/integrations/gmail');
      clear(cardStatus, h('p', { role: 'status' }, t('receipts.gmail.disconnected')));
      await loadCard();
    } catch (err) {
      clear(cardStatus, errorBox(err));
    }
  }

  /** A started job (sync or delete all) with its live bar; the list and the card reload when it ends. */
  async function track(jobId: number): Promise<void> {
    const job = await get<Job>(`/jobs/${jobId}`, abort.signal);
    const row = new JobRow(job);
    started.unshift(row);
    started.splice(3);
    clear(jobsBox, jobTable(started));
    const end = await watchJob(jobId, (j) => row.update(j), abort.signal);
    if (end && !abort.signal.aborted) {
      listPager.reset();
      await Promise.all([loadList(), loadCard()]);
    }
  }

  // ---- the list -----------------------------------------------------------------------------------
  const listPager = new Pager();
  const listBox = h('div', { class: 'receipts-list', 'aria-busy': 'true' });
  const listStatus = h('div', { 'aria-live': 'polite' });

  async function loadList(): Promise<void> {
    try {
      const page = await get<Page<Receipt>>(`/receipts${query({ limit: 50, cursor: listPager.cursor })}`, abort.signal);
      const items = listPager.take(page);
      clear(listBox, items.length ? h('table', { class: 'receipts' },
        h('thead', {}, h('tr', {}, (['receipts.col.vendor', 'receipts.col.amount', 'receipts.col.date', 'receipts.col.subject', 'receipts.col.source', 'receipts.col.attachment'] as const)
          .map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, items.map((r) => h('tr', { 'data-receipt-id': r.id, 'data-source': r.source },
          h('td', { class: 'vendor', dir: 'auto' }, r.vendor),
          h('td', { class: 'amount', dir: 'ltr' }, money(r.amount, r.currency)),
          h('td', { class: 'date' }, day(r.issued_at)),
          h('td', { class: 'subject', dir: 'auto' }, r.subject ?? '—'),
          h('td', { class: 'source' }, h('span', { class: `badge src-${r.source}` }, t(r.source === 'gmail' ? 'receipts.source.gmail' : 'receipts.source.manual'))),
          h('td', {}, r.has_attachment ? attachmentLink(r) : '—'))))) : h('p', {}, t('receipts.empty')),
      listPager.controls(() => void loadList()));
    } catch (err) {
      if (!abort.signal.aborted) clear(listBox, errorBox(err));
    }
    listBox.setAttribute('aria-busy', 'false');
  }

  /** A link to the PDF; fetched with the page's credentials (a pasted token is a header, not a cookie). */
  function attachmentLink(r: Receipt): HTMLAnchorElement {
    const href = `/api/v1/receipts/${r.id}/attachment`;
    const link = h('a', { href, class: 'attachment', 'aria-label': t('receipts.attachmentOf', { vendor: r.vendor }), onclick: (e: Event) => {
      e.preventDefault();
      void (async () => {
        try {
          const res = await request('GET', `/receipts/${r.id}/attachment`, { signal: abort.signal });
          const url = URL.createObjectURL(await res.blob());
          const name = /filename\*=UTF-8''([^;]+)/.exec(res.headers.get('content-disposition') ?? '')?.[1];
          const a = h('a', { href: url, download: name ? decodeURIComponent(name) : `receipt-${r.id}.pdf` });
          document.body.append(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(url), 60_000);
        } catch (err) {
          clear(listStatus, errorBox(err));
        }
      })();
    } }, t('receipts.attachment'));
    return link;
  }

  async function countAll(): Promise<{ n: number; more: boolean }> {
    let n = 0;
    let cursor: string | null = null;
    for (let i = 0; i < COUNT_PAGES; i++) {
      const page: Page<Receipt> = await get<Page<Receipt>>(`/receipts${query({ limit: COUNT_PAGE, cursor })}`, abort.signal);
      n += page.items.length;
      cursor = page.next_cursor;
      if (cursor === null) return { n, more: false };
    }
    return { n, more: true };
  }

  async function deleteAll(button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    clear(listStatus);
    try {
      const { n, more } = await countAll();
      if (n === 0) {
        clear(listStatus, h('p', { role: 'status' }, t('receipts.nothingToDelete')));
        return;
      }
      const key = crypto.randomUUID();
      const message = more ? t('receipts.confirmDeleteMore', { n }) : tn('receipts.confirmDelete', n);
      if (!(await confirmDialog(message))) return;
      const res = await request('DELETE', '/receipts', { headers: { 'idempotency-key': key } });
      const accepted = (await res.json()) as Accepted;
      clear(listStatus, h('p', { role: 'status' }, t('receipts.deleteStarted', { id: accepted.job_id })));
      await track(accepted.job_id);
    } catch (err) {
      clear(listStatus, errorBox(err));
    } finally {
      button.disabled = false;
    }
  }

  const deleteButton = admin ? h('button', { type: 'button', class: 'danger delete-all', onclick: (e: Event) => void deleteAll(e.currentTarget as HTMLButtonElement) }, t('receipts.deleteAll')) : null;

  clear(main,
    h('h1', { tabindex: -1 }, t('receipts.title')),
    card,
    h('section', { 'aria-labelledby': 'receipts-list-title' },
      h('h2', { id: 'receipts-list-title' }, t('receipts.list'), ' ',
        h('button', { type: 'button', class: 'secondary', onclick: () => void loadList() }, t('common.refresh')), ' ', deleteButton),
      listStatus, listBox));
  void loadCard();
  void loadList();
  return () => {
    abort.abort();
    clearInterval(ticker);
  };
}

/** An amount in its currency, in the reader's language (₪ 1,234.50); an unknown code is shown as is. */
function money(amount: number, currency: string): string {
  try {
    return new Intl.NumberFormat(currentLang(), { style: 'currency', currency }).format(amount);
  } catch {
    return `${num(amount)} ${currency}`;
  }
}

function day(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : new Intl.DateTimeFormat(currentLang(), { dateStyle: 'medium' }).format(d);
}
