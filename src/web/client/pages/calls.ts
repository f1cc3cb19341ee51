/// <reference lib="dom" />
import type { ActiveCalls as Active, Call, DncNumber, Run, RunItemStatus, Transcript } from '../../../contract/index.js';
import { get, query, request, sleep, TERMINAL, watchJob, type Job, type Page } from '../api.js';
import { clear, field, h } from '../dom.js';
import { dateTime, duration, num, t, type Key } from '../i18n.js';
import { errorBox, JobRow, jobTable, Pager, statusBadge, type Cleanup } from '../ui.js';
import { knownRuns, rememberRun } from './leads.js';

const RUN_COUNTS = ['queued', 'dialing', 'calling', 'completed', 'busy', 'no_answer', 'failed', 'cancelled'] as const satisfies readonly RunItemStatus[];
const GAUGE_EVERY_MS = 1000;
const RUNS_EVERY_MS = 2000;
const TRANSCRIPT_EVERY_MS = 2000;

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

  // Recent calls (or, with a search, the calls whose transcript has the words), their outcomes,
  // and a recording player that fetches the audio with the page's credentials.
  const callsPager = new Pager();
  const callsBox = h('div', { class: 'calls-list', 'aria-busy': 'true' });
  const player = h('audio', { controls: true, hidden: true, preload: 'auto', 'aria-label': t('calls.player') });
  const playerStatus = h('p', { id: 'player-status', role: 'status' });
  const transcriptBox = h('section', { class: 'transcript', 'aria-labelledby': 'transcript-title', hidden: true });
  let objectUrl: string | null = null;
  let searched = '';
  const search = h('input', { type: 'search', name: 'q', maxlength: 200, dir: 'auto', 'aria-describedby': 'calls-search-help' });
  const searchForm = h('form', { class: 'inline calls-search', role: 'search', onsubmit: (e: Event) => {
    e.preventDefault();
    searched = search.value.trim();
    callsPager.reset();
    void loadCalls();
  } },
  field(t('calls.search'), search),
  h('button', { type: 'submit' }, t('calls.searchSubmit')),
  h('button', { type: 'button', class: 'secondary', onclick: () => {
    search.value = '';
    searched = '';
    callsPager.reset();
    void loadCalls();
  } }, t('calls.searchClear')));
  const searchHelp = h('p', { class: 'muted', id: 'calls-search-help' }, t('calls.searchHelp'));

  // Only the latest load is shown: the page asked for before a search may come back after it.
  let callsGeneration = 0;
  async function loadCalls(): Promise<void> {
    const mine = ++callsGeneration;
    callsBox.setAttribute('aria-busy', 'true');
    try {
      const page = await get<Page<Call>>(`/calls${query({ limit: 10, cursor: callsPager.cursor, q: searched || undefined })}`, abort.signal);
      await learnRuns(page.items);
      if (mine !== callsGeneration) return;
      const calls = callsPager.take(page);
      const cols = ['calls.col.sid', 'calls.col.to', 'calls.col.status', 'calls.col.outcome', 'calls.col.answeredBy', 'calls.col.agent', 'calls.col.digits', 'calls.col.duration', 'calls.col.recording'] as const;
      clear(callsBox,
        searched ? h('p', { class: 'search-summary', role: 'status' }, t(calls.length ? 'calls.searchFound' : 'calls.searchNone', { q: searched })) : null,
        calls.length ? h('table', { class: 'calls' },
          h('thead', {}, h('tr', {}, cols.map((k) => h('th', { scope: 'col' }, t(k))))),
          h('tbody', {}, calls.map((c) => h('tr', { 'data-call-id': c.id, 'data-call-sid': c.call_sid ?? '' },
            h('td', {}, `#${c.id}`), h('td', { dir: 'ltr' }, c.to), h('td', {}, statusBadge(c.status)),
            h('td', { class: 'outcome', 'data-outcome': c.outcome ?? '' }, c.outcome ? t(`outcome.${c.outcome}` as Key) : '—'),
            h('td', { class: 'answered-by', 'data-answered-by': c.answered_by ?? '' }, c.answered_by ? t(`answeredBy.${c.answered_by}` as Key) : '—'),
            h('td', { class: 'agent', dir: 'ltr' }, c.agent ?? '—'),
            h('td', { class: 'digits', dir: 'ltr' }, c.digits ?? '—'),
            h('td', {}, c.duration_s === null ? '—' : duration(c.duration_s * 1000)),
            h('td', {}, c.has_recording && c.call_sid ? playButton(c.call_sid, c.id) : t('calls.noRecording')))))) : searched ? null : h('p', {}, t('common.empty')),
        callsPager.controls(() => void loadCalls()));
    } catch (err) {
      if (!abort.signal.aborted && mine === callsGeneration) clear(callsBox, errorBox(err));
    }
    if (mine === callsGeneration) callsBox.setAttribute('aria-busy', 'false');
  }

  // The transcript of the call in the player: "transcribing…" while pending (re-read every few
  // seconds), the reason when it failed, else its segments, each a button that seeks the audio.
  let transcriptFor: string | null = null;
  let transcriptTimer: ReturnType<typeof setTimeout> | null = null;
  function showTranscript(sid: string, id: number): void {
    transcriptFor = sid;
    if (transcriptTimer !== null) clearTimeout(transcriptTimer);
    transcriptBox.hidden = false;
    transcriptBox.dataset.callSid = sid;
    void readTranscript(sid, id);
  }
  async function readTranscript(sid: string, id: number): Promise<void> {
    const title = h('h3', { id: 'transcript-title' }, t('calls.transcript', { id }));
    try {
      const tr = await get<Transcript>(`/calls/${sid}/transcript`, abort.signal);
      if (transcriptFor !== sid || abort.signal.aborted) return;
      transcriptBox.dataset.state = tr.status;
      if (tr.status === 'pending' || tr.status === 'none') {
        clear(transcriptBox, title, h('p', { class: 'muted', role: 'status' }, t(tr.status === 'pending' ? 'calls.transcribing' : 'calls.noTranscript')));
        transcriptTimer = setTimeout(() => void readTranscript(sid, id), TRANSCRIPT_EVERY_MS);
        return;
      }
      if (tr.status === 'failed') {
        clear(transcriptBox, title, h('p', { class: 'error', role: 'alert' }, t('calls.transcriptFailed', { error: tr.error ?? '—' })));
        return;
      }
      const dir = tr.language?.startsWith('he') ? 'rtl' : tr.language ? 'ltr' : 'auto';
      const lang = tr.language?.slice(0, 2) ?? '';
      clear(transcriptBox, title,
        tr.segments.length
          ? h('ol', { class: 'segments', dir, lang }, tr.segments.map((seg) => h('li', {},
            h('button', { type: 'button', class: 'link seek', 'data-start': seg.start_s, 'aria-label': t('calls.seek', { at: clock(seg.start_s), text: seg.text }), onclick: () => void seek(sid, id, seg.start_s) },
              h('span', { class: 'at', dir: 'ltr' }, clock(seg.start_s))), ' ', h('span', { class: 'said' }, seg.text))))
          : h('p', { class: 'transcript-text', dir, lang }, tr.text ?? ''));
    } catch (err) {
      if (transcriptFor === sid && !abort.signal.aborted) clear(transcriptBox, title, errorBox(err));
    }
  }
  /** A segment was clicked: play this call's recording from there (loading it first if another is in the player). */
  async function seek(sid: string, id: number, at: number): Promise<void> {
    if (player.dataset.callId !== String(id)) {
      const button = callsBox.querySelector<HTMLButtonElement>(`tr[data-call-id="${id}"] button.play`) ?? h('button');
      await play(sid, id, button);
    }
    if (player.dataset.callId !== String(id)) return;
    player.currentTime = at;
    await player.play().catch(() => undefined);
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
    if (transcriptFor !== sid) showTranscript(sid, id);
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
    h('section', {}, h('h2', {}, t('calls.recent'), ' ', h('button', { type: 'button', class: 'secondary', onclick: () => void loadCalls() }, t('common.refresh'))),
      searchForm, searchHelp,
      h('div', { class: 'player-pane' }, h('div', {}, player, playerStatus), transcriptBox),
      callsBox),
    dncSection(abort.signal),
  );
  void gauge();
  void loadCalls().then(() => loadRuns());
  timers.push(setInterval(() => void gauge(), GAUGE_EVERY_MS));
  timers.push(setInterval(() => void refreshRuns(), RUNS_EVERY_MS));
  timers.push(setInterval(() => runRows.forEach((r) => r.tick()), 1000));
  return () => {
    abort.abort();
    timers.forEach(clearInterval);
    if (transcriptTimer !== null) clearTimeout(transcriptTimer);
    if (objectUrl) URL.revokeObjectURL(objectUrl);
  };
}

/** Seconds as m:ss. */
function clock(s: number): string {
  const whole = Math.max(0, Math.floor(s));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

/**
 * The do-not-call list (GET /outbound/dnc): numbers runs skip, among them the leads who pressed 9
 * on a call ("opted_out_by_phone").
 */
function dncSection(signal: AbortSignal): HTMLElement {
  const pager = new Pager();
  const box = h('div', { 'aria-busy': 'true' });
  async function load(): Promise<void> {
    try {
      const page = await get<Page<DncNumber>>(`/outbound/dnc${query({ limit: 20, cursor: pager.cursor })}`, signal);
      const items = pager.take(page);
      clear(box, items.length ? h('table', { class: 'dnc' },
        h('thead', {}, h('tr', {}, (['dnc.col.phone', 'dnc.col.reason', 'dnc.col.added'] as const).map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, items.map((d) => h('tr', { 'data-phone': d.phone },
          h('td', { dir: 'ltr' }, d.phone),
          h('td', { class: 'reason', dir: 'auto' }, d.reason === 'opted_out_by_phone' ? t('dnc.reason.pressed9') : d.reason ?? '—'),
          h('td', {}, dateTime(d.created_at)))))) : h('p', {}, t('dnc.empty')),
      pager.controls(() => void load()));
    } catch (err) {
      if (!signal.aborted) clear(box, errorBox(err));
    }
    box.setAttribute('aria-busy', 'false');
  }
  void load();
  return h('section', { class: 'dnc-list', 'aria-labelledby': 'dnc-title' },
    h('h2', { id: 'dnc-title' }, t('dnc.title'), ' ', h('button', { type: 'button', class: 'secondary dnc-reload', onclick: () => void load() }, t('dnc.reload'))),
    h('p', { class: 'muted' }, t('dnc.help')), box);
}
