/// <reference lib="dom" />
import { ApiError, TERMINAL, get, post, watchJob, type Job, type Page } from './api.js';
import { clear, field, h } from './dom.js';
import { duration, num, t, time, type Key } from './i18n.js';
import { can, isRole, ROLES, type Role } from './session.js';

/** What a page hands back so the shell can stop its streams and timers when the user leaves. */
export type Cleanup = () => void;

/** An error as a person reads it; a gate refusal says which rule refused, which job blocks and when to retry. */
export function errorBox(err: unknown): HTMLElement {
  if (err instanceof ApiError && err.status === 429 && err.code !== 'too_many_attempts') return gateMessage(err);
  return h('div', { class: 'error', role: 'alert', 'data-code': err instanceof ApiError ? err.code : null }, t('common.error', { message: errorText(err) }));
}

/**
 * The refusals this dashboard provokes get its own words, in its language (a 403 names the role
 * that would have been allowed); any other error keeps the server's message, which follows the
 * Accept-Language the API client sends.
 */
export function errorText(err: unknown): string {
  if (!(err instanceof ApiError)) return err instanceof Error ? err.message : String(err);
  const required = err.details.required_role;
  if (err.code === 'forbidden') return isRole(required) ? t('error.forbidden', { role: roleName(required) }) : err.message;
  if (err.code === 'csrf') return t('error.csrf');
  if (err.code === 'last_owner') return t('error.last_owner');
  return err.message;
}

export const roleName = (role: Role): string => t(`role.${role}`);

function gateMessage(err: ApiError): HTMLElement {
  const jobId = typeof err.details.job_id === 'number' ? err.details.job_id : null;
  const reasonKey = `gate.${err.code}` as Key;
  const known = ['rate_limited', 'operation_in_progress', 'duplicate_request', 'concurrency_limit'].includes(err.code);
  const retry = err.retryAfterS ?? 1;
  return h('div', { class: 'error gate', role: 'alert', 'data-code': err.code, 'data-retry-after': retry, 'data-job-id': jobId ?? '' },
    h('strong', {}, t('gate.title')), ' ',
    known ? t(reasonKey) : err.message, ' ',
    jobId !== null ? [h('a', { href: `#/jobs?id=${jobId}` }, t('gate.job', { job: jobId })), '. '] : null,
    t('gate.retry', { s: retry, time: time(new Date(Date.now() + retry * 1000)) }), ' ',
    h('span', { class: 'muted' }, t('gate.code', { code: err.code })),
  );
}

/**
 * Cursor pagination: the API gives only "next"; the pages already seen keep their cursors, so
 * "previous" goes back without the API knowing about it.
 */
export class Pager {
  private cursors: Array<string | null> = [null];
  private index = 0;
  next: string | null = null;

  get cursor(): string | null {
    return this.cursors[this.index] ?? null;
  }

  reset(): void {
    this.cursors = [null];
    this.index = 0;
    this.next = null;
  }

  controls(onChange: () => void): HTMLElement {
    const prev = h('button', { type: 'button', disabled: this.index === 0, onclick: () => {
      this.index = Math.max(0, this.index - 1);
      onChange();
    } }, t('common.prev'));
    const next = h('button', { type: 'button', disabled: this.next === null, onclick: () => {
      if (this.next === null) return;
      this.cursors = this.cursors.slice(0, this.index + 1);
      this.cursors.push(this.next);
      this.index += 1;
      onChange();
    } }, t('common.next'));
    return h('nav', { class: 'pager', 'aria-label': t('common.pagination') }, prev, h('span', { 'aria-live': 'polite' }, t('common.page', { n: this.index + 1 })), next);
  }

  take<T>(page: Page<T>): T[] {
    this.next = page.next_cursor;
    return page.items;
  }
}

export function statusBadge(status: string): HTMLElement {
  const known = ['queued', 'running', 'paused', 'completed', 'failed', 'cancelled'].includes(status);
  return h('span', { class: `badge s-${status}`, 'data-status': status }, known ? t(`status.${status}` as Key) : status);
}

/** Pausing, resuming and cancelling jobs is for admins and owners (agents start no bulk jobs). */
const JOB_CONTROL: Role = 'admin';

const pct = (job: Job): number => Math.round((TERMINAL.has(job.status) && job.status === 'completed' ? 1 : job.progress) * 100);

/**
 * One job as a table row: progress bar, counts, elapsed time and rate, the controls allowed in
 * its status, its last error. `update` redraws it from a newer copy of the job.
 */
export class JobRow {
  readonly el: HTMLTableRowElement;
  private job: Job;
  private readonly message = h('div', { class: 'row-message' });

  constructor(job: Job) {
    this.job = job;
    this.el = h('tr', { 'data-job-id': job.id });
    this.render();
  }

  get current(): Job {
    return this.job;
  }

  /**
   * A snapshot can arrive after a newer one: the answer to a cancel request races the SSE event
   * of the cancellation it caused. A terminal job never changes again, so a non-terminal
   * snapshot after a terminal one is stale and ignored (it used to leave the row "running" for
   * good, its stream already closed).
   */
  update(job: Job): void {
    if (TERMINAL.has(this.job.status) && !TERMINAL.has(job.status)) return;
    this.job = job;
    this.render();
  }

  /** Elapsed time moves while the job runs, without a new event. */
  tick(): void {
    const cell = this.el.querySelector('.elapsed');
    if (cell) cell.textContent = this.timing();
  }

  private timing(): string {
    const j = this.job;
    if (!j.started_at) return '—';
    const end = j.finished_at ? Date.parse(j.finished_at) : Date.now();
    const ms = Math.max(1, end - Date.parse(j.started_at));
    const rate = j.processed / (ms / 1000);
    return t('jobs.rate', { elapsed: duration(ms), rate: rate >= 10 ? Math.round(rate) : Math.round(rate * 10) / 10 });
  }

  private render(): void {
    const j = this.job;
    const p = pct(j);
    const bar = h('progress', { max: 100, value: p, 'aria-label': t('jobs.progress', { id: j.id }), 'aria-valuetext': `${p} %` });
    // A pause of a running job waits for its batch boundary: "pause requested" until it reads
    // paused; meanwhile Resume withdraws the request.
    const pausing = j.pause_requested && j.status === 'running' && !j.cancel_requested;
    const canPause = (j.status === 'queued' || j.status === 'running') && !j.cancel_requested && !j.pause_requested;
    const canResume = j.status === 'paused' || pausing;
    const canCancel = !TERMINAL.has(j.status) && !j.cancel_requested;
    const button = (action: 'pause' | 'resume' | 'cancel', enabled: boolean) => {
      if (!can(JOB_CONTROL)) return null;
      const label = t(`jobs.${action}`);
      return h('button', {
        type: 'button',
        class: `act-${action}`,
        disabled: !enabled,
        'aria-label': t('jobs.actionLabel', { action: label, id: j.id }),
        onclick: () => void this.act(action),
      }, label);
    };
    clear(this.el,
      h('td', {}, h('div', {}, `#${j.id} `, h('span', { class: 'type' }, j.type)), statusBadge(j.status),
        j.cancel_requested && !TERMINAL.has(j.status) ? h('span', { class: 'muted' }, ` ${t('jobs.cancelRequested')}`) : null,
        pausing ? h('span', { class: 'muted' }, ` ${t('jobs.pauseRequested')}`) : null),
      h('td', {}, h('div', { class: 'bar' }, bar, h('span', { class: 'pct' }, `${num(p)} %`))),
      h('td', { class: 'counts' }, t('jobs.counts', { processed: j.processed, total: j.total, succeeded: j.succeeded, failed: j.failed })),
      h('td', { class: 'elapsed' }, this.timing()),
      h('td', { class: 'actions' }, button('pause', canPause), button('resume', canResume), button('cancel', canCancel)),
      h('td', { class: 'last-error' }, j.last_error ? t('jobs.lastError', { error: j.last_error }) : '', this.message),
    );
  }

  private async act(action: 'pause' | 'resume' | 'cancel'): Promise<void> {
    clear(this.message);
    this.el.setAttribute('aria-busy', 'true');
    try {
      const answer = await post<Job>(`/jobs/${this.job.id}/${action}`, {});
      // The answer "running, pause requested" can arrive after the stream's "paused" (the
      // boundary came first); a paused job does not change again, so keep the newer one.
      if (!(action === 'pause' && this.job.status === 'paused' && answer.status === 'running')) this.update(answer);
      this.el.querySelector<HTMLButtonElement>(`.act-${action === 'pause' ? 'resume' : action === 'resume' ? 'pause' : 'cancel'}`)?.focus();
    } catch (err) {
      clear(this.message, errorBox(err));
    } finally {
      this.el.setAttribute('aria-busy', 'false');
    }
  }
}

export function jobTable(rows: JobRow[]): HTMLTableElement {
  return h('table', { class: 'jobs' },
    h('thead', {}, h('tr', {}, ...(['jobs.col.job', 'jobs.col.progress', 'jobs.col.counts', 'jobs.col.time', 'jobs.col.actions'] as const).map((k) => h('th', { scope: 'col' }, t(k))), h('th', { scope: 'col' }, ''))),
    h('tbody', {}, rows.map((r) => r.el)),
  );
}

/**
 * Keeps rows live: the first `streams` non-terminal jobs get an SSE stream each; the rest are
 * re-read every few seconds. A browser opens at most six connections to one host over HTTP/1.1,
 * and a held stream takes one, so a page of 20 running jobs must not open 20 streams.
 */
export function keepLive(rows: JobRow[], streams = 3): Cleanup {
  const abort = new AbortController();
  let streaming = 0;
  const polled: JobRow[] = [];
  for (const row of rows) {
    if (TERMINAL.has(row.current.status)) continue;
    if (streaming < streams) {
      streaming += 1;
      void watchJob(row.current.id, (job) => row.update(job), abort.signal).catch(() => undefined);
    } else {
      polled.push(row);
    }
  }
  const ticker = setInterval(() => rows.forEach((r) => r.tick()), 1000);
  const poller = setInterval(() => {
    for (const row of polled) {
      if (TERMINAL.has(row.current.status)) continue;
      get<Job>(`/jobs/${row.current.id}`, abort.signal).then((job) => row.update(job), () => undefined);
    }
  }, 3000);
  return () => {
    abort.abort();
    clearInterval(ticker);
    clearInterval(poller);
  };
}

/** A modal confirmation (<dialog>: focus is trapped and Escape cancels). Resolves true on confirm. */
export function confirmDialog(message: string, extra: HTMLElement[] = []): Promise<boolean> {
  return new Promise((resolve) => {
    const titleId = `dlg-${Date.now()}`;
    const dialog = h('dialog', { 'aria-labelledby': titleId, class: 'confirm' });
    const form = h('form', { method: 'dialog' },
      h('p', { id: titleId, class: 'confirm-text' }, message),
      ...extra,
      h('div', { class: 'buttons' },
        h('button', { type: 'submit', value: 'cancel', class: 'secondary' }, t('common.cancel')),
        h('button', { type: 'submit', value: 'ok', class: 'primary danger' }, t('common.confirm'))),
    );
    dialog.append(form);
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
    (extra.length > 0 ? dialog.querySelector<HTMLElement>('input, select, textarea') : dialog.querySelector<HTMLElement>('button[value=ok]'))?.focus();
  });
}

/**
 * A secret the API shows once (an invitation link, a new API token): read-only, selected on
 * focus, with a copy button that says whether the copy worked.
 */
export function secretField(label: string, value: string): HTMLElement {
  const input = h('input', { type: 'text', readonly: true, value, spellcheck: 'false', dir: 'ltr', class: 'secret', onfocus: (e: Event) => (e.target as HTMLInputElement).select() });
  const status = h('span', { role: 'status', class: 'muted' });
  const copy = h('button', { type: 'button', class: 'secondary copy', 'aria-label': t('copy.label', { what: label }), onclick: () => {
    input.select();
    const said = (ok: boolean) => (status.textContent = t(ok ? 'copy.done' : 'copy.failed'));
    // The Clipboard API exists only in secure contexts (https or localhost); a dashboard served
    // over plain http elsewhere falls back to copying the selection.
    const clipboard = (navigator as Partial<Navigator>).clipboard;
    if (clipboard) clipboard.writeText(value).then(() => said(true), () => said(false));
    else said(document.execCommand('copy'));
  } }, t('copy.button'));
  return h('div', { class: 'secret-field' }, field(label, input), copy, status);
}

/** Roles the signed-in user may hand out: never above their own (the API refuses that anyway). */
export function grantableRoles(mine: Role): Role[] {
  return ROLES.slice(0, ROLES.indexOf(mine) + 1);
}
