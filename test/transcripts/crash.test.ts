import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { withTx } from '../../src/db/pool.js';
import { scriptedWav } from '../../src/providers/telephony/wav.js';
import { SIM_TRANSCRIBE_API_KEY, TranscriptionSimulator } from '../../src/providers/transcription/simulator.js';
import { RecordingsCache } from '../../src/recordings/cache.js';
import { queueTranscription } from '../../src/transcripts/transcripts.service.js';
import { createTenant, startTestEnv, waitFor, type TestEnv, type Tenant } from '../helpers/harness.js';
import { spawnTs, type Child } from '../helpers/processes.js';

/**
 * kill -9 of a real `bulkhead worker` while its transcriptions wait at the provider (the
 * simulator lives in this test process and holds the answers): a second worker rescues the jobs
 * and every transcript is stored exactly once, with the words of its recording.
 */
let env: TestEnv;
let t: Tenant;
const sim = new TranscriptionSimulator();
const children: Child[] = [];

before(async () => {
  env = await startTestEnv({ worker: false });
  t = await createTenant(env);
  await sim.start();
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await sim.stop();
  await env.close();
});

async function workerProcess(): Promise<Child> {
  const c = await spawnTs('src/cli/main.ts', {
    DATABASE_URL: env.url,
    DATA_DIR: env.config.dataDir,
    TRANSCRIBE_API_BASE: sim.baseURL,
    TRANSCRIBE_API_KEY: SIM_TRANSCRIBE_API_KEY,
    TRANSCRIBE_CONCURRENCY: '3',
    WORKER_HEARTBEAT_MS: '200',
    WORKER_STALE_MS: '1500',
    LOG_LEVEL: 'info',
  }, ['worker'], /transcripts-worker[\s\S]*worker started|worker started[\s\S]*transcripts-worker/);
  children.push(c);
  return c;
}

test('kill -9 mid-transcription: each transcript stored once, by the worker that rescued it', async () => {
  const cache = new RecordingsCache(env.config.dataDir, 1_000_000_000);
  const said = (i: number) => `call number ${i} asks to be called back on Sunday`;
  const calls: Array<{ id: number; sid: string }> = [];
  for (let i = 0; i < 6; i++) {
    const sid = `CA${String(Date.now()).padStart(24, '0')}${String(i).padStart(8, '0')}`;
    const { rows } = await env.pool.query<{ id: number }>(
      `INSERT INTO calls (business_id, from_number, to_number, status, call_sid, recording_sid, recording_status)
       VALUES ($1, '+15005550006', '+12125550100', 'completed', $2, $3, 'completed') RETURNING id::int`,
      [t.businessId, sid, `RE${sid.slice(2)}`],
    );
    const id = rows[0]?.id;
    assert.ok(id);
    calls.push({ id, sid });
    const wav = scriptedWav(2, { language: 'en-US', segments: [{ start_s: 0, end_s: 2, text: said(i) }] });
    await cache.store(t.businessId, sid, async (out) => {
      await new Promise<void>((resolve) => out.end(wav, () => resolve()));
      return wav.length;
    });
    await withTx(env.pool, (tx) => queueTranscription(tx, { businessId: t.businessId, callId: id, callSid: sid, again: false, createdBy: null }));
  }

  // The provider holds its answers: the first worker's transcriptions are in flight when it dies.
  sim.faults.delayMs = 60_000;
  const first = await workerProcess();
  await waitFor(async () => sim.stats.requests >= 3, 'three transcriptions in flight at the provider', 20_000);
  first.kill('SIGKILL');
  await first.exited;
  sim.faults.delayMs = 0;
  await workerProcess();

  const rows = await waitFor(async () => {
    const { rows } = await env.pool.query<{ call_id: number; status: string; text: string | null; attempts: number }>(
      `SELECT call_id::int, status, text, attempts FROM transcripts WHERE business_id = $1 ORDER BY call_id`, [t.businessId]);
    return rows.length === 6 && rows.every((r) => r.status === 'completed') ? rows : null;
  }, 'six transcripts completed after the rescue', 25_000);
  calls.forEach((c, i) => {
    const r = rows.find((x) => x.call_id === c.id);
    assert.equal(r?.text, said(i));
    assert.equal(r?.attempts, 1, `the transcript of call ${c.id} was written once`);
  });
  const { rows: jobs } = await env.pool.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM jobs WHERE business_id = $1 AND type = 'transcribe_call' GROUP BY status`, [t.businessId]);
  assert.deepEqual(jobs, [{ status: 'completed', n: 6 }]);
});
