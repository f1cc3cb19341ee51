/// <reference lib="dom" />
import type { Import as ImportView, Lead } from '../../../contract/index.js';
import { get, post, query, request, watchJob, type Accepted, type Job, type Page } from '../api.js';
import { clear, field, h, option } from '../dom.js';
import { num, t, tn } from '../i18n.js';
import { can } from '../session.js';
import { confirmDialog, errorBox, JobRow, jobTable, Pager, type Cleanup } from '../ui.js';

type Bulk = 'delete' | 'update' | 'call' | 'broadcast';

/** The invalid rows shown under an import; the API keeps the first thousand. */
const ERRORS_SHOWN = 20;

export function leadsPage(main: HTMLElement, params: URLSearchParams): Cleanup {
  /** Bulk actions and imports are for admins and owners: an agent's page has no selection at all. */
  const bulkAllowed = can('admin');
  const pager = new Pager();
  const selected = new Set<number>();
  const abort = new AbortController();
  let generation = 0;
  /** Jobs started from this page, with live bars, so the user sees them move without leaving it. */
  const started: JobRow[] = [];
  const ticker = setInterval(() => started.forEach((r) => r.tick()), 1000);

  const input = (name: string, attrs: Record<string, string> = {}) => h('input', { name, value: params.get(name) ?? '', ...attrs });
  const f = {
    status: input('status', { placeholder: 'new' }),
    source: h('select', { name: 'source' }, option('', t('common.any')), option('manual', t('leads.source.manual'), params.get('source') === 'manual'), option('import', t('leads.source.import'), params.get('source') === 'import')),
    import_id: input('import_id', { type: 'number', min: '1', inputmode: 'numeric' }),
    tag: input('tag'),
    q: input('q', { type: 'search' }),
    limit: h('select', { name: 'limit' }, ['25', '50', '100'].map((n) => option(n, n, (params.get('limit') ?? '50') === n))),
  };
  const filters = h('form', { class: 'filters', role: 'search', 'aria-label': t('leads.filters'), onsubmit: (e: Event) => {
    e.preventDefault();
    pager.reset();
    void load();
  } },
  field(t('leads.search'), f.q), field(t('leads.status'), f.status), field(t('leads.source'), f.source),
  field(t('leads.import'), f.import_id), field(t('leads.tag'), f.tag), field(t('leads.pageSize'), f.limit),
  h('button', { type: 'submit' }, t('common.apply')));

  const selection = h('span', { class: 'selection', 'aria-live': 'polite' });
  const feedback = h('div', { class: 'feedback' });
  const jobsBox = h('div', { class: 'started' });
  const table = h('div', { 'aria-busy': 'true' });
  const bulkButtons = (['delete', 'update', 'call', 'broadcast'] as const).map((kind) =>
    h('button', { type: 'button', class: `bulk-${kind}${kind === 'delete' ? ' danger' : ''}`, disabled: true, onclick: () => void bulk(kind) }, t(`leads.bulk.${kind}`)));
  const clearButton = h('button', { type: 'button', class: 'secondary', disabled: true, onclick: () => {
    selected.clear();
    table.querySelectorAll<HTMLInputElement>('input[type=checkbox]').forEach((c) => (c.checked = false));
    showSelection();
  } }, t('leads.clearSelection'));

  function showSelection(): void {
    selection.textContent = tn('leads.selected', selected.size);
    for (const b of [...bulkButtons, clearButton]) b.disabled = selected.size === 0;
  }

  async function load(): Promise<void> {
    const mine = ++generation;
    table.setAttribute('aria-busy', 'true');
    try {
      const page = await get<Page<Lead>>(`/leads${query({
        limit: f.limit.value, cursor: pager.cursor, status: f.status.value.trim(), source: f.source.value,
        import_id: f.import_id.value, tag: f.tag.value.trim(), q: f.q.value.trim(),
      })}`, abort.signal);
      if (mine !== generation) return;
      const leads = pager.take(page);
      clear(table, leads.length ? leadTable(leads) : h('p', {}, t('common.empty')), pager.controls(() => void load()));
    } catch (err) {
      if (!abort.signal.aborted) clear(table, errorBox(err));
    } finally {
      table.setAttribute('aria-busy', 'false');
    }
  }

  function leadTable(leads: Lead[]): HTMLTableElement {
    const boxes = leads.map((l) => h('input', {
      type: 'checkbox', value: l.id, checked: selected.has(l.id), 'aria-label': t('leads.selectOne', { id: l.id }),
      onchange: (e: Event) => {
        if ((e.target as HTMLInputElement).checked) selected.add(l.id);
        else selected.delete(l.id);
        all.checked = leads.every((x) => selected.has(x.id));
        showSelection();
      },
    }));
    const all: HTMLInputElement = h('input', {
      type: 'checkbox', class: 'select-page', 'aria-label': t('leads.selectPage'), checked: leads.every((l) => selected.has(l.id)),
      onchange: () => {
        for (const [i, l] of leads.entries()) {
          if (all.checked) selected.add(l.id);
          else selected.delete(l.id);
          const box = boxes[i];
          if (box) box.checked = all.checked;
        }
        showSelection();
      },
    });
    const cols = ['leads.col.id', 'leads.col.name', 'leads.col.phone', 'leads.col.email', 'leads.col.status', 'leads.col.tags', 'leads.col.source'] as const;
    return h('table', { class: 'leads' },
      h('thead', {}, h('tr', {}, bulkAllowed ? h('th', { scope: 'col' }, all) : null, cols.map((c) => h('th', { scope: 'col' }, t(c))))),
      h('tbody', {}, leads.map((l, i) => h('tr', { 'data-lead-id': l.id },
        bulkAllowed ? h('td', {}, boxes[i]) : null, h('td', {}, l.id), h('td', {}, l.name ?? ''), h('td', { dir: 'ltr', class: 'phone' }, l.phone),
        h('td', {}, l.email ?? ''), h('td', {}, l.status), h('td', {}, l.tags.join(', ')),
        h('td', {}, l.source === 'import' ? `${t('leads.source.import')} #${l.import_id ?? ''}` : t('leads.source.manual'))))),
    );
  }

  async function bulk(kind: Bulk): Promise<void> {
    const ids = [...selected];
    if (ids.length === 0) return;
    const extra: HTMLElement[] = [];
    const upd = { status: h('input', { name: 'set-status', placeholder: 'contacted' }), add: h('input', { name: 'tags-add' }), remove: h('input', { name: 'tags-remove' }) };
    const text = h('textarea', { name: 'text', rows: 3, required: true });
    if (kind === 'update') extra.push(field(t('leads.update.status'), upd.status), field(t('leads.update.tagsAdd'), upd.add), field(t('leads.update.tagsRemove'), upd.remove));
    if (kind === 'broadcast') extra.push(field(t('leads.broadcast.text'), text));
    // One key per confirmation: a retried or doubled click cannot create a second job.
    const key = crypto.randomUUID();
    if (!(await confirmDialog(tn(`leads.confirm.${kind}`, ids.length), extra))) return;
    clear(feedback);
    try {
      let accepted: Accepted;
      if (kind === 'delete') accepted = await post<Accepted>('/leads/bulk-delete', { lead_ids: ids }, key);
      else if (kind === 'call') accepted = await post<Accepted>('/outbound/runs', { lead_ids: ids }, key);
      else if (kind === 'broadcast') accepted = await post<Accepted>('/whatsapp/broadcasts', { text: text.value.trim(), lead_ids: ids }, key);
      else {
        const set: Record<string, unknown> = {};
        if (upd.status.value.trim()) set.status = upd.status.value.trim();
        if (upd.add.value.trim()) set.tags_add = [upd.add.value.trim()];
        if (upd.remove.value.trim()) set.tags_remove = [upd.remove.value.trim()];
        accepted = await post<Accepted>('/leads/bulk-update', { lead_ids: ids, set }, key);
      }
      if (kind === 'call' && typeof accepted.run_id === 'number') rememberRun(accepted.job_id, accepted.run_id);
      if (kind === 'delete') selected.clear();
      showSelection();
      clear(feedback, h('p', { role: 'status' }, t('leads.started', { id: accepted.job_id }), ' ', h('a', { href: '#/jobs' }, t('leads.openJobs'))));
      await track(accepted.job_id);
    } catch (err) {
      clear(feedback, errorBox(err));
    }
  }

  /** Shows a started job with its live bar; reloads the table when it ends (rows may be gone). */
  async function track(jobId: number): Promise<void> {
    const job = await get<Job>(`/jobs/${jobId}`, abort.signal);
    const row = new JobRow(job);
    started.unshift(row);
    started.splice(3);
    renderStarted();
    const end = await watchJob(jobId, (j) => row.update(j), abort.signal);
    if (end && !abort.signal.aborted) void load();
  }

  function renderStarted(): void {
    clear(jobsBox, started.length ? jobTable(started) : null);
  }

  // CSV import: upload, watch the job, then the import's summary with each invalid row and why.
  const file = h('input', { type: 'file', accept: '.csv,text/csv', name: 'csv' });
  const importStatus = h('div', { class: 'import-result', 'aria-live': 'polite' });
  const importForm = h('form', { class: 'import', onsubmit: (e: Event) => {
    e.preventDefault();
    void importCsv();
  } }, h('h2', {}, t('import.title')), field(t('import.file'), file), h('button', { type: 'submit' }, t('import.submit')), importStatus);

  async function importCsv(): Promise<void> {
    const chosen = file.files?.[0];
    if (!chosen) {
      clear(importStatus, h('p', { class: 'error', role: 'alert' }, t('import.noFile')));
      return;
    }
    try {
      const res = await request('POST', '/leads/import', {
        body: await chosen.text(),
        headers: { 'content-type': 'text/csv', 'x-filename': chosen.name.slice(0, 255), 'idempotency-key': crypto.randomUUID() },
      });
      const accepted = (await res.json()) as Accepted & { import_id: number };
      clear(importStatus, h('p', {}, t('import.running', { id: accepted.job_id })));
      await watchJob(accepted.job_id, () => undefined, abort.signal);
      if (abort.signal.aborted) return;
      const imp = await get<ImportView>(`/imports/${accepted.import_id}`, abort.signal);
      clear(importStatus, importSummary(imp));
      pager.reset();
      void load();
    } catch (err) {
      clear(importStatus, errorBox(err));
    }
  }

  clear(main,
    h('h1', { tabindex: -1 }, t('leads.title')),
    filters,
    bulkAllowed ? h('section', { class: 'bulk', 'aria-label': t('leads.bulk') }, selection, ' ', bulkButtons, clearButton) : null,
    feedback, jobsBox, table, bulkAllowed ? importForm : null,
  );
  showSelection();
  void load();
  return () => {
    generation += 1;
    abort.abort();
    clearInterval(ticker);
  };
}

function importSummary(imp: ImportView): HTMLElement {
  const shown = imp.errors.slice(0, ERRORS_SHOWN);
  return h('section', { class: 'summary', 'data-import-id': imp.id },
    h('h3', {}, t('import.summary', { id: imp.id, filename: imp.filename ?? '—', status: imp.status })),
    h('dl', { class: 'stats' },
      h('div', { 'data-stat': 'inserted' }, h('dt', {}, t('import.inserted')), h('dd', {}, num(imp.inserted))),
      h('div', { 'data-stat': 'duplicates' }, h('dt', {}, t('import.duplicates')), h('dd', {}, num(imp.duplicates))),
      h('div', { 'data-stat': 'invalid' }, h('dt', {}, t('import.invalid')), h('dd', {}, num(imp.invalid)))),
    shown.length ? h('table', { class: 'import-errors' },
      h('caption', {}, t('import.errors')),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('import.row')), h('th', { scope: 'col' }, t('import.reason')))),
      h('tbody', {}, shown.map((e) => h('tr', {}, h('td', {}, e.row), h('td', {}, e.message))))) : null,
    imp.invalid > shown.length ? h('p', {}, t('import.more', { n: imp.invalid - shown.length })) : null,
  );
}

const RUNS_KEY = 'bulkhead.runs';

/** The API has no list of runs; the Calls page finds a run job's run id here or from its calls. */
export function rememberRun(jobId: number, runId: number): void {
  const runs = knownRuns();
  runs[jobId] = runId;
  const entries = Object.entries(runs).slice(-200);
  localStorage.setItem(RUNS_KEY, JSON.stringify(Object.fromEntries(entries)));
}

export function knownRuns(): Record<number, number> {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(RUNS_KEY) ?? '{}');
    return parsed && typeof parsed === 'object' ? (parsed as Record<number, number>) : {};
  } catch {
    return {};
  }
}
