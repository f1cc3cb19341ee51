import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTenant, waitFor, waitForJob, type Tenant } from '../helpers/harness.js';
import { api, makeLeads, startOutboundEnv, startRun, type OutboundEnv } from '../outbound/helpers.js';

let env: OutboundEnv;
let t: Tenant;

before(async () => {
  // Every completed recording is queued for transcription, and a transcription downloads its
  // recording: with transcriptions running, that download could finish before a test's plays
  // (seen in CI when the call took long), and no play would be the one that asks. None run here;
  // a transcription asks through the same ensureDownload (one active job per call) as a play.
  env = await startOutboundEnv({ TRANSCRIBE_CONCURRENCY: '0' });
  t = await createTenant(env);
  await makeLeads(env, t, 70);
});

after(async () => {
  await env.close();
});

/** A completed call with a recording reported by the provider. */
async function completedCall(outcome: 'completed' | 'busy' = 'completed'): Promise<{ sid: string; id: number }> {
  const [lead] = await (async () => {
    const { rows } = await env.pool.query<{ id: number; phone: string }>(
      `SELECT id, phone FROM leads WHERE business_id = $1 AND id NOT IN (SELECT lead_id FROM calls WHERE business_id = $1 AND lead_id IS NOT NULL) LIMIT 1`,
      [t.businessId],
    );
    return rows;
  })();
  assert.ok(lead);
  env.sim.faults.outcomeFor = () => outcome;
  const res = await api(env, t, 'POST', '/outbound/calls', { lead_ids: [lead.id] });
  assert.equal(res.status, 201);
  const call = (res.body.calls as Array<{ call_sid: string; id: number }>)[0];
  assert.ok(call);
  await waitFor(async () => {
    const { rows } = await env.pool.query<{ status: string; recording_status: string | null }>(
      `SELECT status, recording_status FROM calls WHERE business_id = $1 AND id = $2`,
      [t.businessId, call.id],
    );
    const r = rows[0];
    return r && r.status === outcome && (outcome !== 'completed' || r.recording_status === 'completed');
  }, 'call ended (with its recording)');
  return { sid: call.call_sid, id: call.id };
}

describe('recordings', () => {
  test('20 concurrent plays: one download job, one provider download; then 200 with Range', async () => {
    const { sid } = await completedCall();
    const url = `/calls/${sid}/recording`;
    // The provider holds the audio until the plays are answered: else a download that finished
    // between two plays would rightly answer the later ones 200, and which do would be timing.
    let release = (): void => undefined;
    env.sim.faults.holdMedia = new Promise<void>((resolve) => { release = resolve; });
    const plays = await Promise.all(Array.from({ length: 20 }, () => api(env, t, 'GET', url)));
    env.sim.faults.holdMedia = null;
    release();
    const accepted = plays.filter((p) => p.status === 202);
    assert.deepEqual(plays.map((p) => p.status), plays.map(() => 202), 'every play of a recording not downloaded yet is accepted');
    const jobIds = new Set(accepted.map((p) => p.body.job_id));
    assert.equal(jobIds.size, 1, 'all pending plays name the same job');
    assert.equal(accepted[0]?.body.status, 'processing');
    assert.ok(Number(accepted[0]?.headers['retry-after']) >= 1);
    const { rows } = await env.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs WHERE business_id = $1 AND type = 'recording_download'`,
      [t.businessId],
    );
    assert.equal(rows[0]?.n, 1, 'one job enqueued');
    await waitForJob(env, Number([...jobIds][0]), 'completed');
    const full = await api(env, t, 'GET', url);
    assert.equal(full.status, 200);
    assert.equal(full.headers['accept-ranges'], 'bytes');
    assert.equal(full.raw.subarray(0, 4).toString('ascii'), 'RIFF');
    assert.equal(full.raw.subarray(8, 12).toString('ascii'), 'WAVE');
    assert.equal(Number(full.headers['content-length']), full.raw.length);
    const downloads = [...env.sim.stats.mediaDownloads.values()].reduce((a, b) => a + b, 0);
    assert.equal(downloads, 1, 'the provider served the recording once');

    const res = await env.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: { ...t.headers, range: 'bytes=100-199' } });
    assert.equal(res.statusCode, 206);
    assert.equal(res.headers['content-range'], `bytes 100-199/${full.raw.length}`);
    assert.deepEqual(res.rawPayload, full.raw.subarray(100, 200));
    const tail = await env.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: { ...t.headers, range: 'bytes=-10' } });
    assert.equal(tail.statusCode, 206);
    assert.deepEqual(tail.rawPayload, full.raw.subarray(full.raw.length - 10));
    const bad = await env.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: { ...t.headers, range: `bytes=${full.raw.length}-` } });
    assert.equal(bad.statusCode, 416);
    assert.equal(bad.headers['content-range'], `bytes */${full.raw.length}`);

    const other = await createTenant(env);
    assert.equal((await api(env, other, 'GET', url)).status, 404, 'another business’s recording is not found');
  });

  test('a call without a recording answers 404 and enqueues nothing', async () => {
    const { sid } = await completedCall('busy');
    const res = await api(env, t, 'GET', `/calls/${sid}/recording`);
    assert.equal(res.status, 404);
    assert.equal((await api(env, t, 'GET', `/calls/CA${'0'.repeat(32)}/recording`)).status, 404);
    const { rows } = await env.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs WHERE business_id = $1 AND type = 'recording_download' AND params->>'call_sid' = $2`,
      [t.businessId, sid],
    );
    assert.equal(rows[0]?.n, 0);
  });

  test('200 concurrent plays of 50 uncached recordings: never a 429, one download job and one provider download each', async () => {
    const leads = await env.pool.query<{ id: number }>(
      `SELECT id FROM leads WHERE business_id = $1 AND id NOT IN (SELECT lead_id FROM calls WHERE business_id = $1 AND lead_id IS NOT NULL) ORDER BY id LIMIT 50`,
      [t.businessId],
    );
    assert.equal(leads.rows.length, 50);
    env.sim.faults.outcomeFor = () => 'completed';
    await env.pool.query(`UPDATE businesses SET max_outbound_calls = 50 WHERE id = $1`, [t.businessId]);
    const { jobId } = await startRun(env, t, leads.rows.map((l) => l.id), 50);
    await waitForJob(env, jobId, 'completed', 30_000);
    const calls = await waitFor(async () => {
      const { rows } = await env.pool.query<{ call_sid: string }>(
        `SELECT call_sid FROM calls WHERE business_id = $1 AND lead_id = ANY($2::bigint[]) AND recording_status = 'completed'`,
        [t.businessId, leads.rows.map((l) => l.id)],
      );
      return rows.length === 50 ? rows : null;
    }, '50 recordings');
    const plays = await Promise.all(Array.from({ length: 200 }, (_, i) => api(env, t, 'GET', `/calls/${calls[i % 50]?.call_sid ?? ''}/recording`)));
    for (const p of plays) assert.ok(p.status === 202 || p.status === 200, `play answered ${p.status} ${JSON.stringify(p.body)}`);
    const { rows: jobs } = await env.pool.query<{ id: number; sid: string }>(
      `SELECT id, params->>'call_sid' AS sid FROM jobs WHERE business_id = $1 AND type = 'recording_download' AND params->>'call_sid' = ANY($2)`,
      [t.businessId, calls.map((c) => c.call_sid)],
    );
    assert.equal(jobs.length, 50, 'one download job per recording');
    for (const j of jobs) await waitForJob(env, j.id, 'completed');
    const again = await Promise.all(calls.map((c) => api(env, t, 'GET', `/calls/${c.call_sid}/recording`)));
    for (const p of again) assert.equal(p.status, 200);
    const { rows: recs } = await env.pool.query<{ recording_sid: string }>(
      `SELECT recording_sid FROM calls WHERE business_id = $1 AND call_sid = ANY($2)`, [t.businessId, calls.map((c) => c.call_sid)]);
    assert.deepEqual(recs.map((r) => env.sim.stats.mediaDownloads.get(r.recording_sid)), recs.map(() => 1), 'the provider served each recording once');
  });
});
