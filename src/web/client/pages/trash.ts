/// <reference lib="dom" />
import type { RestoreFailure, TrashedLead } from '../../../contract/index.js';
import { get, post, query, watchJob, type Accepted, type Job, type Page } from '../api.js';
import { clear, h } from '../dom.js';
import { dateTime, num, t, tn } from '../i18n.js';
import { confirmDialog, errorBox, JobRow, jobTable, statusBadge, type Cleanup } from '../ui.js';

/** The jobs that fill the trash; the page lists them, newest first, each with its own Restore. */
const DELETE_TYPES = ['delete_leads_bulk', 'delete_imported_leads'] as const;
const JOBS_PER_TYPE = 10;
/** A card counts its trash up to this many leads ("more than 50" beyond). */
const TRASH_PAGE = 50;

export function trashPage(main: HTMLElement): Cleanup {
  const abort = new AbortController();
  const cursors = new Map<string, string | null>(DELETE_TYPES.map((type) => [type, null]));
  const exhausted = new Set<string>();
  const jobs: Job[] = [];
  const list = h('div', { class: 'trash-jobs', 'aria-busy': 'true' });
  const problem = h('div');
  const more = h('button', { type: 'button', class: 'secondary more', hidden: true, onclick: () => void loadJobs() }, t('common.more'));
  /** Restore jobs started here, with live bars. */
  const rows: JobRow[] = [];
  const ticker = setInterval(() => rows.forEach((r) => r.tick()), 1000);

  /**
   * The next page of each delete type, merged by id: the API lists one type per request, and a
   * business with many bulk deletes and few imported-lead deletes still sees both, in order.
   */
  async function loadJobs(): Promise<void> {
    list.setAttribute('aria-busy', 'true');
    more.disabled = true;
    clear(problem);
    try {
      const pages = await Promise.all(DELETE_TYPES.filter((type) => !exhausted.has(type)).map(async (type) => {
        const page = await get<Page<Job>>(`/jobs${query({ type, limit: JOBS_PER_TYPE, cursor: cursors.get(type) })}`, abort.signal);
        cursors.set(type, page.next_cursor);
        if (page.next_cursor === null) exhausted.add(type);
        return page.items;
      }));
      const known = new Set(jobs.map((j) => j.id));
      jobs.push(...pages.flat().filter((j) => !known.has(j.id)));
      jobs.sort((a, b) => b.id - a.id);
      more.hidden = exhausted.size === DELETE_TYPES.length;
      if (jobs.length === 0) clear(list, h('p', {}, t('trash.none')));
      else {
        if (!list.querySelector('.trash-job')) list.replaceChildren();
        // Cards already shown keep their state (an open list, a restore in progress).
        for (const job of jobs) {
          if (!list.querySelector(`.trash-job[data-job-id="${job.id}"]`)) insertInOrder(card(job), job.id);
        }
      }
    } catch (err) {
      if (!abort.signal.aborted) clear(problem, errorBox(err));
    } finally {
      more.disabled = false;
      list.setAttribute('aria-busy', 'false');
    }
  }

  function insertInOrder(el: HTMLElement, id: number): void {
    const after = Array.from(list.querySelectorAll<HTMLElement>('.trash-job')).find((c) => Number(c.dataset.jobId) < id);
    list.insertBefore(el, after ?? null);
  }

  function card(job: Job): HTMLElement {
    const headingId = `trash-job-${job.id}`;
    const count = h('p', { class: 'trash-count', 'aria-live': 'polite' }, t('common.loading'));
    const leadsBody = h('tbody');
    const leadsMore = h('button', { type: 'button', class: 'secondary', hidden: true }, t('common.more'));
    const details = h('details', {}, h('summary', {}, t('trash.show')),
      h('table', { class: 'trash-leads' },
        h('thead', {}, h('tr', {}, (['trash.col.phone', 'trash.col.name', 'trash.col.deletedAt', 'trash.col.notes', 'trash.col.activities', 'trash.col.reminders'] as const).map((k) => h('th', { scope: 'col' }, t(k))))),
        leadsBody),
      leadsMore);
    const result = h('div', { class: 'restore-result', 'aria-live': 'polite' });
    const restore = h('button', {
      type: 'button', class: 'primary restore', disabled: true,
      'aria-label': t('trash.restoreLabel', { id: job.id }), onclick: () => void startRestore(),
    }, t('trash.restore'));
    let cursor: string | null = null;

    /** First page again: how much of this job is still in the trash, and its leads. */
    async function loadTrash(append = false): Promise<void> {
      try {
        const page = await get<Page<TrashedLead>>(`/trash/leads${query({ job_id: job.id, limit: TRASH_PAGE, cursor: append ? cursor : null })}`, abort.signal);
        cursor = page.next_cursor;
        const rowsOf = page.items.map((l) => h('tr', { 'data-lead-id': l.lead_id },
          h('td', {}, h('span', { dir: 'ltr' }, l.phone)), h('td', {}, l.name ?? ''), h('td', {}, dateTime(l.deleted_at)),
          (['notes', 'activities', 'reminders'] as const).map((k) => h('td', { class: 'n' }, num(l.counts[k])))));
        if (append) leadsBody.append(...rowsOf);
        else {
          leadsBody.replaceChildren(...rowsOf);
          const n = page.items.length;
          count.dataset.count = page.next_cursor === null ? String(n) : `>${n}`;
          count.textContent = n === 0 ? t('trash.nothing') : page.next_cursor === null ? tn('trash.inTrash', n) : t('trash.inTrashMore', { n });
          details.hidden = n === 0;
          restore.disabled = n === 0;
        }
        leadsMore.hidden = cursor === null;
      } catch (err) {
        if (!abort.signal.aborted) clear(count, errorBox(err));
      }
    }
    leadsMore.addEventListener('click', () => void loadTrash(true));

    async function startRestore(): Promise<void> {
      // One key per confirmation: a retried or doubled click cannot start a second restore.
      const key = crypto.randomUUID();
      if (!(await confirmDialog(t('trash.confirm', { id: job.id })))) return;
      restore.disabled = true;
      clear(result);
      try {
        const accepted = await post<Accepted>('/trash/restore', { job_id: job.id }, key);
        const row = new JobRow(await get<Job>(`/jobs/${accepted.job_id}`, abort.signal));
        rows.push(row);
        clear(result,
          h('p', { role: 'status' }, t('trash.started', { id: accepted.job_id }), ' ',
            h('a', { href: `#/jobs?id=${accepted.job_id}` }, t('trash.openJob', { id: accepted.job_id }))),
          jobTable([row]));
        const end = await watchJob(accepted.job_id, (j) => row.update(j), abort.signal);
        if (!end || abort.signal.aborted) return;
        result.append(failuresOf(end));
        await loadTrash();
      } catch (err) {
        if (abort.signal.aborted) return;
        clear(result, errorBox(err));
        restore.disabled = false;
      }
    }

    void loadTrash();
    const deleted = job.succeeded;
    return h('section', { class: 'trash-job', 'data-job-id': job.id, 'aria-labelledby': headingId },
      h('h2', { id: headingId }, t('trash.job', { id: job.id }), ' ', h('span', { class: 'type' }, job.type), statusBadge(job.status)),
      h('p', {}, tn('trash.deleted', deleted), ' · ', h('time', { datetime: job.finished_at ?? job.created_at }, dateTime(job.finished_at ?? job.created_at))),
      count,
      h('div', { class: 'buttons' }, restore),
      details,
      result);
  }

  clear(main,
    h('h1', { tabindex: -1 }, t('trash.title')),
    h('p', { class: 'muted' }, t('trash.help')),
    problem, list, more,
  );
  void loadJobs();
  return () => {
    abort.abort();
    clearInterval(ticker);
  };
}

/** Failures listed per lead (the job keeps the first 100; its counts stay exact). */
const FAILURES_SHOWN = 20;

/** What a finished restore could not put back, and why (a phone taken meanwhile, mostly). */
function failuresOf(job: Job): HTMLElement | string {
  if (job.failed === 0) return '';
  const listed = Array.isArray(job.result?.failures) ? (job.result.failures as RestoreFailure[]) : [];
  const shown = listed.slice(0, FAILURES_SHOWN);
  return h('div', { class: 'restore-failures', role: 'status' },
    h('h3', {}, t('trash.failures')),
    h('ul', {}, shown.map((f) => h('li', { 'data-lead-id': f.lead_id, 'data-reason': f.reason },
      f.reason === 'phone_taken' && f.conflicting_lead_id !== null ? t('trash.fail.phone_taken', { id: f.lead_id, other: f.conflicting_lead_id })
        : f.reason === 'not_in_trash' ? t('trash.fail.not_in_trash', { id: f.lead_id })
          : t('trash.fail.other', { id: f.lead_id, message: f.message })))),
    job.failed > shown.length ? h('p', {}, t('trash.failMore', { n: job.failed - shown.length })) : null);
}
