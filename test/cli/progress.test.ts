/** The CLI's pure parts and its SSE follower, without a service (a scripted fetch stands in). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiClient, parseEvent, type Job } from '../../src/cli/api-client.js';
import { averageRate, etaSeconds, formatDuration, PLAIN_BAR, progressLine, ProgressReporter, RateMeter, requestOf } from '../../src/cli/commands/progress.js';
import { watchJob } from '../../src/cli/commands/watch.js';

const job = (over: Partial<Job> = {}): Job => ({
  id: 7,
  type: 'delete_leads_bulk',
  status: 'running',
  total: 200,
  processed: 50,
  succeeded: 50,
  failed: 0,
  progress: 0.25,
  created_at: '2025-01-01T00:00:00.000Z',
  started_at: null,
  finished_at: null,
  last_error: null,
  ...over,
});

describe('progress', () => {
  test('the rate follows a sliding window and the ETA is remaining / rate', () => {
    const m = new RateMeter(10_000);
    m.sample(0, 0);
    assert.equal(m.rate(100), null, 'no rate from one sample');
    m.sample(100, 1_000);
    assert.equal(m.rate(1_000), 100);
    m.sample(150, 20_000);
    // The first samples fell out of the window: 50 items over 19 s.
    assert.equal(Math.round((m.rate(20_000) ?? 0) * 100) / 100, 2.63);
    assert.equal(etaSeconds(job(), 10), 15);
    assert.equal(etaSeconds(job({ status: 'paused' }), 10), null);
    assert.equal(etaSeconds(job({ status: 'completed', processed: 200 }), null), 0);
    m.sample(10, 21_000);
    assert.equal(m.rate(21_000), null, 'a job that went back (checkpoint) starts a new window');
  });

  test('one line says job, bar, percent, counts, rate, ETA and status', () => {
    assert.equal(
      progressLine(job(), 25, PLAIN_BAR),
      'job 7 delete_leads_bulk  [#####---------------]   25%  50/200  25.0/s  ETA 6s  running',
    );
    assert.match(progressLine(job({ cancel_requested: true }), null, PLAIN_BAR), /–\/s {2}ETA \? {2}running \(cancel requested\)$/);
    assert.equal(formatDuration(3725), '1h02m');
    assert.equal(averageRate(job({ processed: 200, started_at: '2025-01-01T00:00:00.000Z', finished_at: '2025-01-01T00:00:08.000Z' })), 25);
    assert.equal(formatDuration(75), '1m15s');
  });

  test('on a terminal the bar is redrawn in place; elsewhere it prints lines on status changes', () => {
    const tty: string[] = [];
    const r = new ProgressReporter({ write: (s: string) => tty.push(s), isTTY: true, columns: 40 });
    r.update(job());
    r.update(job({ processed: 60 }));
    r.stop();
    assert.equal(tty.length, 3);
    assert.ok(tty[0]?.startsWith('\r\x1b[2K') && (tty[0]?.length ?? 0) <= 40 + 5, 'clipped to the terminal width');
    assert.equal(tty[2], '\n');

    const plain: string[] = [];
    let now = 0;
    const p = new ProgressReporter({ write: (s: string) => plain.push(s), isTTY: false }, { intervalMs: 1000, now: () => now });
    p.update(job({ status: 'queued', processed: 0 }));
    p.update(job({ processed: 10 }));
    now = 500;
    p.update(job({ processed: 20 }));
    now = 1600;
    p.update(job({ processed: 30 }));
    p.stop();
    assert.deepEqual(plain.map((l) => /(\d+)\/200/.exec(l)?.[1]), ['0', '10', '30']);
    assert.ok(plain.every((l) => !l.includes('\r') && l.endsWith('\n')));
  });

  test('SSE blocks parse into events; comments are skipped', () => {
    assert.deepEqual(parseEvent('event: progress\nid: 1\ndata: {"a":1}'), { event: 'progress', data: '{"a":1}' });
    assert.deepEqual(parseEvent('data: x\ndata: y'), { event: 'message', data: 'x\ny' });
    assert.equal(parseEvent(': keep-alive'), null);
  });
});

describe('watchJob', () => {
  const sse = (...jobs: Job[]) => jobs.map((j) => `event: progress\r\ndata: ${JSON.stringify(j)}\r\n\r\n`).join('');

  test('re-opens a stream that ended before the job did, and returns the terminal job', async () => {
    const answers = [
      () => new Response(': keep-alive\n\n' + sse(job({ processed: 20 }))),
      () => Response.json(job({ processed: 40 })),
      () => new Response(sse(job({ processed: 40 }), job({ status: 'completed', processed: 200 }))),
    ];
    const asked: string[] = [];
    const client = new ApiClient({
      baseUrl: 'http://bulkhead.test/',
      token: 't',
      fetch: async (url) => {
        asked.push(String(url));
        const next = answers.shift();
        if (!next) throw new Error('no more answers');
        return next();
      },
    });
    const seen: number[] = [];
    const done = await watchJob(client, 7, { onJob: (j) => seen.push(j.processed), reconnectDelayMs: 1 });
    assert.equal(done.status, 'completed');
    assert.deepEqual(seen, [20, 40, 200]);
    assert.deepEqual(asked, [
      'http://bulkhead.test/api/v1/jobs/7/events',
      'http://bulkhead.test/api/v1/jobs/7',
      'http://bulkhead.test/api/v1/jobs/7/events',
    ]);
  });

  test('a 404 is not retried', async () => {
    let calls = 0;
    const client = new ApiClient({
      baseUrl: 'http://bulkhead.test',
      token: 't',
      fetch: async () => {
        calls++;
        return Response.json({ error: { code: 'not_found', message: 'Job not found.' } }, { status: 404 });
      },
    });
    await assert.rejects(watchJob(client, 7, { onJob: () => undefined, reconnectDelayMs: 1 }), { name: 'ApiError', status: 404, code: 'not_found' });
    assert.equal(calls, 1);
  });
});

describe('a requested pause (issue 11)', () => {
  test('a running job with a pause requested says so; cancel wins; a paused or ended job shows its status only', () => {
    assert.match(progressLine(job({ pause_requested: true }), null, PLAIN_BAR), / {2}running \(pause requested\)$/);
    assert.match(progressLine(job({ pause_requested: true, cancel_requested: true }), null, PLAIN_BAR), / {2}running \(cancel requested\)$/);
    assert.match(progressLine(job({ status: 'paused', pause_requested: false }), null, PLAIN_BAR), / {2}paused$/);
    assert.equal(requestOf(job({ status: 'completed', pause_requested: true })), null);
    assert.equal(requestOf(job({ status: 'paused', cancel_requested: true })), 'cancel');
    assert.equal(requestOf(job()), null, 'an older API without the field');
  });

  test('the plain reporter prints a line when the pause is requested and when it takes effect', () => {
    const lines: string[] = [];
    let now = 0;
    const r = new ProgressReporter({ write: (s: string) => lines.push(s), isTTY: false }, { intervalMs: 60_000, now: () => now });
    r.update(job());
    now = 10;
    r.update(job({ pause_requested: true }));
    now = 20;
    r.update(job({ status: 'paused', processed: 60, succeeded: 60 }));
    r.stop();
    assert.deepEqual(lines.map((l) => /(running|paused)( \(pause requested\))?$/.exec(l.trimEnd())?.[0]), ['running', 'running (pause requested)', 'paused']);
  });
});
