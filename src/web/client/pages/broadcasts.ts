/// <reference lib="dom" />
import type { Broadcast, OptOut, Recipient, RecipientStatus } from '../../../contract/index.js';
import { get, post, query, type Page } from '../api.js';
import { clear, field, h, option } from '../dom.js';
import { num, t, type Key } from '../i18n.js';
import { errorBox, Pager, statusBadge, type Cleanup } from '../ui.js';

const RECIPIENT_STATUSES = ['queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'skipped'] as const satisfies readonly RecipientStatus[];

export function broadcastsPage(main: HTMLElement, params: URLSearchParams): Cleanup {
  const abort = new AbortController();
  const listPager = new Pager();
  const listBox = h('div');
  const detail = h('section', { class: 'broadcast-detail', 'aria-live': 'polite' });
  let shownId = Number(params.get('id')) || null;
  let refresh: ReturnType<typeof setInterval> | null = null;

  async function loadList(): Promise<void> {
    try {
      const items = listPager.take(await get<Page<Broadcast>>(`/whatsapp/broadcasts${query({ limit: 10, cursor: listPager.cursor })}`, abort.signal));
      clear(listBox, items.length ? h('ul', { class: 'broadcasts' }, items.map((b) => h('li', {},
        h('button', { type: 'button', class: 'link', 'aria-label': t('bc.show', { id: b.id }), 'aria-pressed': b.id === shownId ? 'true' : 'false', onclick: () => show(b.id) },
          t('bc.item', { id: b.id, status: t(`status.${b.status}` as Key), total: b.total })),
        b.message ? h('span', { class: 'muted' }, ` ${messageText(b.message).slice(0, 80)}`) : null))) : h('p', {}, t('common.empty')),
      listPager.controls(() => void loadList()));
      if (shownId === null && items[0]) show(items[0].id);
    } catch (err) {
      if (!abort.signal.aborted) clear(listBox, errorBox(err));
    }
  }

  // One broadcast: its funnel, and its recipients filtered by status, a page at a time.
  const recipientsPager = new Pager();
  const statusFilter = h('select', { name: 'recipient-status' }, option('', t('common.any')), RECIPIENT_STATUSES.map((s) => option(s, t(`count.${s}` as Key))));
  statusFilter.addEventListener('change', () => {
    recipientsPager.reset();
    void loadRecipients();
  });
  const funnelBox = h('div');
  const recipientsBox = h('div');
  // Only the latest load of each box is shown: the first (unfiltered) page of recipients may come
  // back after the page a quick filter change asked for, and a funnel after another broadcast's.
  let funnelGeneration = 0;
  let recipientsGeneration = 0;

  function show(id: number): void {
    shownId = id;
    listBox.querySelectorAll('button[aria-pressed]').forEach((b) => b.setAttribute('aria-pressed', String(b.getAttribute('aria-label') === t('bc.show', { id }))));
    recipientsPager.reset();
    clear(detail, funnelBox, h('h3', {}, t('bc.recipients')), field(t('bc.filter'), statusFilter), recipientsBox);
    void loadFunnel();
    void loadRecipients();
    if (refresh) clearInterval(refresh);
    refresh = setInterval(() => void loadFunnel(), 2000);
  }

  async function loadFunnel(): Promise<void> {
    if (shownId === null) return;
    const mine = ++funnelGeneration;
    try {
      const b = await get<Broadcast>(`/whatsapp/broadcasts/${shownId}`, abort.signal);
      if (mine !== funnelGeneration) return;
      clear(funnelBox, funnel(b));
      if (['completed', 'failed', 'cancelled'].includes(b.status) && refresh) {
        clearInterval(refresh);
        refresh = null;
      }
    } catch (err) {
      if (!abort.signal.aborted && mine === funnelGeneration) clear(funnelBox, errorBox(err));
    }
  }

  async function loadRecipients(): Promise<void> {
    if (shownId === null) return;
    const mine = ++recipientsGeneration;
    try {
      const page = await get<Page<Recipient>>(`/whatsapp/broadcasts/${shownId}/recipients${query({ limit: 25, cursor: recipientsPager.cursor, status: statusFilter.value })}`, abort.signal);
      if (mine !== recipientsGeneration) return;
      const items = recipientsPager.take(page);
      clear(recipientsBox, items.length ? h('table', { class: 'recipients' },
        h('thead', {}, h('tr', {}, (['bc.col.phone', 'bc.col.status', 'bc.col.reason'] as const).map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, items.map((r) => h('tr', {}, h('td', { dir: 'ltr' }, r.phone), h('td', {}, t(`count.${r.status}` as Key)),
          h('td', {}, [r.reason, r.error_code].filter((x) => x !== null && x !== '').join(' · ')))))) : h('p', {}, t('common.empty')),
      recipientsPager.controls(() => void loadRecipients()));
    } catch (err) {
      if (!abort.signal.aborted && mine === recipientsGeneration) clear(recipientsBox, errorBox(err));
    }
  }

  // Opt-outs: a page of them and a form to add one.
  const optPager = new Pager();
  const optBox = h('div');
  const optPhone = h('input', { name: 'opt-out-phone', type: 'tel', required: true, dir: 'ltr' });
  const optMessage = h('div', { 'aria-live': 'polite' });
  async function loadOptOuts(): Promise<void> {
    try {
      const items = optPager.take(await get<Page<OptOut>>(`/whatsapp/opt-outs${query({ limit: 25, cursor: optPager.cursor })}`, abort.signal));
      clear(optBox, items.length ? h('ul', { class: 'opt-outs' }, items.map((o) => h('li', {}, h('span', { dir: 'ltr' }, o.phone), h('span', { class: 'muted' }, ` ${o.source}`)))) : h('p', {}, t('common.empty')),
        optPager.controls(() => void loadOptOuts()));
    } catch (err) {
      if (!abort.signal.aborted) clear(optBox, errorBox(err));
    }
  }
  const optForm = h('form', { class: 'inline', onsubmit: (e: Event) => {
    e.preventDefault();
    void post<OptOut>('/whatsapp/opt-outs', { phone: optPhone.value.trim() }).then((o) => {
      clear(optMessage, h('p', { role: 'status' }, t('bc.optout.added', { phone: o.phone })));
      optPhone.value = '';
      optPager.reset();
      void loadOptOuts();
    }, (err: unknown) => clear(optMessage, errorBox(err)));
  } }, field(t('bc.optout.phone'), optPhone), h('button', { type: 'submit' }, t('bc.optout.add')));

  clear(main,
    h('h1', { tabindex: -1 }, t('bc.title')),
    h('div', { class: 'split' }, h('section', {}, h('h2', {}, t('bc.list')), listBox), detail),
    h('section', {}, h('h2', {}, t('bc.optouts')), optForm, optMessage, optBox),
  );
  if (shownId !== null) show(shownId);
  void loadList();
  void loadOptOuts();
  return () => {
    abort.abort();
    if (refresh) clearInterval(refresh);
  };
}

/**
 * Recipients → sent → delivered → read, each bar as wide as its share of the recipients; what
 * never got sent (queued, sending, failed, skipped) is listed beside it.
 */
function funnel(b: Broadcast): HTMLElement {
  const c = (k: RecipientStatus) => b.counts[k];
  const stages: Array<[Key, number]> = [
    ['bc.stage.recipients', b.total],
    ['bc.stage.sent', c('sent') + c('delivered') + c('read')],
    ['bc.stage.delivered', c('delivered') + c('read')],
    ['bc.stage.read', c('read')],
  ];
  const width = (n: number) => `${b.total ? Math.round((n / b.total) * 100) : 0}%`;
  return h('div', { class: 'funnel', 'data-broadcast-id': b.id },
    h('h3', {}, t('bc.funnel', { id: b.id }), ' ', statusBadge(b.status)),
    h('ol', {}, stages.map(([key, n]) => h('li', {},
      h('span', { class: 'stage' }, t(key)),
      h('span', { class: 'track' }, bar(width(n))),
      h('span', { class: 'n' }, num(n))))),
    h('p', { class: 'muted' }, t('bc.others')),
    h('dl', { class: 'stats' },
      (['queued', 'sending', 'failed', 'skipped'] as const).map((k) => h('div', { 'data-stat': k }, h('dt', {}, t(`count.${k}`)), h('dd', {}, num(c(k)))))),
  );
}

/** Set through the CSSOM: the page's CSP forbids inline style attributes. */
function bar(width: string): HTMLElement {
  const fill = h('span', { class: 'fill' });
  fill.style.inlineSize = width;
  return fill;
}

function messageText(m: NonNullable<Broadcast['message']>): string {
  return m.type === 'text' ? m.text : `${m.name} (${m.language})`;
}
