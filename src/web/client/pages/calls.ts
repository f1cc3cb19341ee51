/// <reference lib="dom" />
import type { ActiveCalls as Active, Call, Run, RunItemStatus } from '../../../contract/index.js';
import { get, query, request, sleep, TERMINAL, watchJob, type Job, type Page } from '../api.js';
import { clear, h } from '../dom.js';
import { duration, num, t, type Key } from '../i18n.js';
import { errorBox, JobRow, jobTable, Pager, statusBadge, type Cleanup } from '../ui.js';
import { knownRuns, rememberRun } from './leads.js';

const RUN_COUNTS = ['queued', 'dialing', 'calling', 'completed', 'busy', 'no_answer', 'failed', 'cancelled'] as const satisfies readonly RunItemStatus[];
const GAUGE_EVERY_MS = 1000;
const RUNS_EVERY_MS = 2000;

export function callsPage(main: HTMLElement): Cleanup {
  const abort = new AbortController();
  const timers: Array<ReturnType<typeof setInterval>> = [];

  // The gauge: the business's active calls (every run and direct call) against its limit.
  const meter = h('meter', { id: 'gauge', min: 0, max: 3, value: 0, 'aria-labelledby': 'gauge-label' });
  const gaugeText = h('span', { id: 'gauge-text', 'aria-live': 'off' });
  const activeList = h('ul', { class: 'active-calls', 'aria-label': t('calls.active') });
  const gaugeError = h('div');
  async function gauge(): Promise<void> {
    try {
      const a = await get<Active>('/outbound/active', abort.signal);
      meter.max = Math.max(1, a.limit);
      meter.value = a.active;
      meter.high = Math.max(1, a.limit);
      gaugeText.textContent = t('calls.gaugeText', { active: a.active, limit: a.limit });
      gaugeText.dataset.active = String(a.active);
      gaugeText.dataset.limit = String(a.limit);
      clear(activeList, a.calls.map((c) => h('li', {}, h('span', { dir: 'ltr' }, c.to), ' ', statusBadge(c.status))));
      clear(gaugeError);
    } catch (err) {
      if (!abort.signal.aborted) clear(gaugeError, errorBox(err));
    }
  }

  // Runs: shown as their jobs (enqueue_outbound_calls: live progress and the control buttons), with
  // counts per status from the run; GET /outbound/runs tells which run each job is.
  const runsPager = new Pager();
  const runsBox = h('div', { 'aria-busy': 'true' });
  let runRows: JobRow[] = [];
  let countsBody = h('tbody');
  async function loadRuns(): Promise<void> {
    try {
      const [page, runs] = await Promise.all([
        get<Page<Job>>(`/jobs${query({ type: 'enqueue_outbound_calls', limit: 5, cursor: runsPager.cursor })}`, abort.signal),
        get<Page<Run>>(`/outbound/runs${query({ limit: 50 })}`, abort.signal),
      ]);
      for (const run of runs.items) rememberRun(run.job_id, run.id);
      runRows = runsPager.take(page).map((j) => new JobRow(j));
      countsBody = h('tbody');
      clear(runsBox,
        runRows.length ? jobTable(runRows) : h('p', {}, t('common.empty')),
        runRows.length ? h('table', { class: 'run-counts' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('calls.runs')), RUN_COUNTS.map((c) => h('th', { scope: 'col' }, t(`count.${c}` as Key))))),
          countsBody) : null,
        runsPager.controls(() => void loadRuns()));
      runsBox.setAttribute('aria-busy', 'false');
      await refreshRuns(true);
    } catch (err) {
      if (!abort.signal.aborted) clear(runsBox, errorBox(err));
    }
  }
  const countRows = new Map<number, HTMLTableRowElement>();
  async function refreshRuns(all = false): Promise<void> {
    const runs = knownRuns();
    for (const row of runRows) {
      const job = row.current;
      if (!all && TERMINAL.has(job.status)) continue;
      const runId = runs[job.id];
      let tr = countRows.get(job.id);
      if (!tr || !countsBody.contains(tr)) {
        tr = h('tr', { 'data-job-id': job.id });
        countRows.set(job.id, tr);
        countsBody.append(tr);
      }
      if (runId === undefined) {
        clear(tr, h('td', { colspan: RUN_COUNTS.length + 1 }, t('calls.runUnknown', { job: job.id })));
        continue;
      }
      try {
        const [run, fresh] = await Promise.all([get<Run>(`/outbound/runs/${runId}`, abort.signal), get<Job>(`/jobs/${job.id}`, abort.signal)]);
        row.update(fresh);
        clear(tr, h('th', { scope: 'row' }, t('calls.run', { id: run.id, job: run.job_id })), RUN_COUNTS.map((c) => h('td', { 'data-count': c }, num(run.counts[c]))));
      } catch {
        // the next refresh tries again
      }
    }
  }

  // Recent calls, with a recording player that fetches the audio with the bearer header.
  const callsPager = new Pager();
  const callsBox = h('div');
  const player = h('audio', { controls: true, hidden: true, preload: 'auto', 'aria-label': t('calls.player') });
  const playerStatus = h('p', { id: 'player-status', role: 'status' });
  let objectUrl: string | null = null;
  async function loadCalls(): Promise<void> {
    try {
      const page = await get<Page<Call>>(`/calls${query({ limit: 10, cursor: callsPager.cursor })}`, abort.signal);
      const calls = callsPager.take(page);
      await learnRuns(calls);
      clear(callsBox, calls.length ? h('table', { class: 'calls' },
        h('thead', {}, h('tr', {}, (['calls.col.sid', 'calls.col.to', 'calls.col.status', 'calls.col.duration', 'calls.col.recording'] as const).map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, calls.map((c) => h('tr', { 'data-call-id': c.id },
          h('td', {}, `#${c.id}`), h('td', { dir: 'ltr' }, c.to), h('td', {}, statusBadge(c.status)),
          h('td', {}, c.duration_s === null ? '—' : duration(c.duration_s * 1000)),
          h('td', {}, c.has_recording && c.call_sid ? playButton(c.call_sid, c.id) : t('calls.noRecording')))))) : h('p', {}, t('common.empty')),
      callsPager.controls(() => void loadCalls()));
    } catch (err) {
      if (!abort.signal.aborted) clear(callsBox, errorBox(err));
    }
  }

  /** Run ids named by calls of runs this browser did not start. */
  async function learnRuns(calls: Call[]): Promise<void> {
    const known = new Set(Object.values(knownRuns()));
    const unknown = [...new Set(calls.map((c) => c.run_id).filter((id): id is number => id !== null && !known.has(id)))];
    await Promise.all(unknown.map(async (id) => {
      const run = await get<Run>(`/outbound/runs/${id}`, abort.signal).catch(() => null);
      if (run) rememberRun(run.job_id, run.id);
    }));
  }

  function playButton(sid: string, id: number): HTMLButtonElement {
    const button: HTMLButtonElement = h('button', { type: 'button', class: 'play', 'aria-label': t('calls.play', { id }), onclick: () => void play(sid, id, button) }, t('calls.playShort'));
    return button;
  }

  /** 202 while the download job runs: say so, wait for the job (or Retry-After), ask again. */
  async function play(sid: string, id: number, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      for (let attempt = 0; attempt < 30 && !abort.signal.aborted; attempt++) {
        const res = await request('GET', `/calls/${sid}/recording`, { signal: abort.signal });
        if (res.status === 202) {
          playerStatus.dataset.state = 'preparing';
          playerStatus.textContent = t('calls.preparing');
          const body = (await res.json()) as { job_id: number; retry_after?: number };
          const wait = new AbortController();
          abort.signal.addEventListener('abort', () => wait.abort(), { once: true });
          await Promise.race([
            watchJob(body.job_id, () => undefined, wait.signal).catch(() => null),
            sleep(Math.max(1, body.retry_after ?? 1) * 1000, wait.signal),
          ]);
          wait.abort();
          continue;
        }
        const blob = await res.blob();
        if (objectUrl) URL.revokeObjectURL(objectUrl);
        objectUrl = URL.createObjectURL(blob);
        player.src = objectUrl;
        player.hidden = false;
        player.dataset.callId = String(id);
        playerStatus.dataset.state = 'ready';
        playerStatus.textContent = t('calls.ready', { id });
        // Autoplay may be refused; the visible controls still play it.
        await player.play().catch(() => undefined);
        return;
      }
    } catch (err) {
      playerStatus.dataset.state = 'error';
      clear(playerStatus, errorBox(err));
    } finally {
      button.disabled = false;
    }
  }

  clear(main,
    h('h1', { tabindex: -1 }, t('calls.title')),
    h('section', { class: 'gauge', 'aria-labelledby': 'gauge-label' }, h('h2', { id: 'gauge-label' }, t('calls.gauge')), meter, ' ', gaugeText, activeList, gaugeError),
    h('section', {}, h('h2', {}, t('calls.runs')), runsBox),
    h('section', {}, h('h2', {}, t('calls.recent'), ' ', h('button', { type: 'button', class: 'secondary', onclick: () => void loadCalls() }, t('common.refresh'))), player, playerStatus, callsBox),
  );
  void gauge();
  void loadCalls().then(() => loadRuns());
  timers.push(setInterval(() => void gauge(), GAUGE_EVERY_MS));
  timers.push(setInterval(() => void refreshRuns(), RUNS_EVERY_MS));
  timers.push(setInterval(() => runRows.forEach((r) => r.tick()), 1000));
  return () => {
    abort.abort();
    timers.forEach(clearInterval);
    if (objectUrl) URL.revokeObjectURL(objectUrl);
  };
}
