/** The progress line says when a pause (or a cancel) waits for the batch boundary (issue 11). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Job } from '../../src/cli/api-client.js';
import { PLAIN_BAR, progressLine, ProgressReporter, requestOf } from '../../src/cli/commands/progress.js';

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
