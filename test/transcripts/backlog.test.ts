import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { insertJob } from '../../src/jobs/jobs.repo.js';
import { isTranscriptsModule, type TranscriptsModule } from '../../src/transcripts/module.js';
import { createTenant, waitFor, waitForJob, type Tenant } from '../helpers/harness.js';
import { api, makeLeads, startOutboundEnv, startRun, type OutboundEnv } from '../outbound/helpers.js';

/**
 * A backlog of transcriptions never delays a play: 500 queued transcribe_call jobs, each taking
 * 3 s at the provider, and a play of an uncached recording is ready in about its download time.
 * (With the transcripts queue on the shared worker — WORKER_QUEUES=…,transcripts and
 * TRANSCRIBE_CONCURRENCY=0 — every slot holds a 3 s transcription and this fails.)
 */
let env: OutboundEnv;
let t: Tenant;
let transcripts: TranscriptsModule;

before(async () => {
  env = await startOutboundEnv({ TRANSCRIBE_CONCURRENCY: '2' });
  const m = env.modules.find(isTranscriptsModule);
  assert.ok(m?.simulator);
  transcripts = m;
  t = await createTenant(env);
  await makeLeads(env, t, 10);
  await env.pool.query(`UPDATE businesses SET max_outbound_calls = 10, rate_limits = '{"enqueue_outbound_calls":1000}' WHERE id = $1`, [t.businessId]);
});

after(async () => {
  await env.pool.query(`UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE type = 'transcribe_call' AND status = 'queued'`);
  if (transcripts.simulator) transcripts.simulator.faults.delayMs = 0;
  await env.close();
});

test('500 queued transcriptions (3 s each) do not delay a play beyond its download time', async () => {
  const sim = transcripts.simulator;
  assert.ok(sim);
  const leads = (await env.pool.query<{ id: number }>(`SELECT id FROM leads WHERE business_id = $1 ORDER BY id`, [t.businessId])).rows;
  env.sim.faults.outcomeFor = () => 'completed';
  const first = leads.slice(0, 9).map((l) => l.id);
  const { jobId } = await startRun(env, t, first, 9);
  await waitForJob(env, jobId, 'completed', 30_000);
  const done = await waitFor(async () => {
    const { rows } = await env.pool.query<{ call_sid: string }>(
      `SELECT call_sid FROM transcripts WHERE business_id = $1 AND status = 'completed'`, [t.businessId]);
    return rows.length === 9 ? rows : null;
  }, 'the first 9 calls transcribed (their recordings cached)');

  sim.faults.delayMs = 3_000;
  for (let i = 0; i < 500; i++) {
    const sid = done[i % done.length]?.call_sid ?? '';
    await insertJob(env.pool, {
      businessId: t.businessId, type: 'transcribe_call', queue: 'transcripts', priority: -10, params: { call_sid: sid },
      paramsHash: createHash('sha256').update(`${sid}:${i}`).digest('hex'), lockKey: null, total: 1, createdBy: null,
    });
  }
  const before = sim.stats.requests;
  await waitFor(async () => sim.stats.requests >= before + 2, 'the transcripts worker is busy at the provider');

  const last = leads[9];
  assert.ok(last);
  const res = await api(env, t, 'POST', '/outbound/calls', { lead_ids: [last.id] });
  assert.equal(res.status, 201);
  const call = (res.body.calls as Array<{ id: number; call_sid: string }>)[0];
  assert.ok(call);
  await waitFor(async () => {
    const { rows } = await env.pool.query<{ recording_status: string | null }>(`SELECT recording_status FROM calls WHERE id = $1`, [call.id]);
    return rows[0]?.recording_status === 'completed';
  }, 'the new call is recorded');

  const started = Date.now();
  const play = await api(env, t, 'GET', `/calls/${call.call_sid}/recording`);
  assert.equal(play.status, 202);
  await waitForJob(env, Number(play.body.job_id), 'completed', 10_000);
  const ready = await api(env, t, 'GET', `/calls/${call.call_sid}/recording`);
  const ms = Date.now() - started;
  assert.equal(ready.status, 200);
  assert.ok(ms < 2_000, `the play was ready after ${ms} ms`);
  const { rows } = await env.pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM jobs WHERE business_id = $1 AND type = 'transcribe_call' AND status = 'queued'`, [t.businessId]);
  assert.ok((rows[0]?.n ?? 0) > 450, `the backlog was still there (${rows[0]?.n ?? 0} queued)`);
});
