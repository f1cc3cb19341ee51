import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { scriptedWav, readWavScript, type SpokenScript } from '../../src/providers/telephony/wav.js';
import { isTranscriptsModule, type TranscriptsModule } from '../../src/transcripts/module.js';
import { isRecordingsModule } from '../../src/recordings/module.js';
import type { RecordingsCache } from '../../src/recordings/cache.js';
import { createTenant, waitFor, waitForJob, type Tenant } from '../helpers/harness.js';
import { api, makeLeads, startOutboundEnv, startRun, type OutboundEnv } from '../outbound/helpers.js';

let env: OutboundEnv;
let t: Tenant;
let other: Tenant;
let transcripts: TranscriptsModule;
let cache: RecordingsCache;

before(async () => {
  env = await startOutboundEnv({ TRANSCRIBE_CONCURRENCY: '4', SIM_TRANSCRIBE_RETRY_AFTER_S: '1' });
  const m = env.modules.find(isTranscriptsModule);
  const r = env.modules.find(isRecordingsModule);
  assert.ok(m?.simulator && r);
  transcripts = m;
  cache = r.cache;
  t = await createTenant(env);
  other = await createTenant(env);
  await makeLeads(env, t, 40);
  await makeLeads(env, other, 5);
  for (const b of [t, other]) await env.pool.query(`UPDATE businesses SET max_outbound_calls = 20, rate_limits = '{"transcribe_calls_bulk":1000,"enqueue_outbound_calls":1000}' WHERE id = $1`, [b.businessId]);
});

after(async () => {
  await env.close();
});

const sim = () => {
  const s = transcripts.simulator;
  assert.ok(s);
  return s;
};

interface Row { call_id: number; call_sid: string; status: string; text: string | null; error: string | null }

async function transcriptRows(businessId: number, callIds: number[]): Promise<Row[]> {
  const { rows } = await env.pool.query<Row>(
    `SELECT call_id::int, call_sid, status, text, error FROM transcripts WHERE business_id = $1 AND call_id = ANY($2::bigint[]) ORDER BY call_id`,
    [businessId, callIds],
  );
  return rows;
}

/** Calls `n` fresh leads of the business in one run; returns the recorded calls. */
async function recordedCalls(b: Tenant, n: number): Promise<Array<{ id: number; call_sid: string }>> {
  const { rows: leads } = await env.pool.query<{ id: number }>(
    `SELECT id FROM leads WHERE business_id = $1 AND id NOT IN (SELECT lead_id FROM calls WHERE business_id = $1 AND lead_id IS NOT NULL) ORDER BY id LIMIT $2`,
    [b.businessId, n],
  );
  assert.equal(leads.length, n);
  env.sim.faults.outcomeFor = () => 'completed';
  const { jobId } = await startRun(env, b, leads.map((l) => l.id), Math.min(n, 20));
  await waitForJob(env, jobId, 'completed', 30_000);
  return waitFor(async () => {
    const { rows } = await env.pool.query<{ id: number; call_sid: string }>(
      `SELECT id::int, call_sid FROM calls WHERE business_id = $1 AND lead_id = ANY($2::bigint[]) AND recording_status = 'completed' ORDER BY id`,
      [b.businessId, leads.map((l) => l.id)],
    );
    return rows.length === n ? rows : null;
  }, `${n} recorded calls`);
}

async function settled(b: Tenant, callIds: number[]): Promise<Row[]> {
  return waitFor(async () => {
    const rows = await transcriptRows(b.businessId, callIds);
    return rows.length === callIds.length && rows.every((r) => r.status !== 'pending') ? rows : null;
  }, `${callIds.length} transcripts settled`, 30_000);
}

/** Replaces a call's cached recording (atomically, as a download would) with these bytes. */
async function putRecording(b: Tenant, sid: string, bytes: Buffer): Promise<void> {
  await cache.store(b.businessId, sid, async (out) => {
    await new Promise<void>((resolve) => out.end(bytes, () => resolve()));
    return bytes.length;
  });
}

async function retranscribe(b: Tenant, sids: string[]): Promise<void> {
  const res = await api(env, b, 'POST', '/calls/transcribe', { call_sids: sids });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  await waitForJob(env, Number(res.body.job_id), 'completed');
}

const HEBREW: SpokenScript = {
  language: 'he-IL',
  segments: [
    { start_s: 0, end_s: 2.5, text: 'שלום, כאן מהמרפאה של ד״ר כהן.' },
    { start_s: 2.5, end_s: 5, text: 'אני רוצה לקבוע תור ליום שלישי בבוקר' },
  ],
};

describe('transcripts', () => {
  test('a run of 20 calls: 20 transcripts completed, each what the recording says was spoken, one download per call', async () => {
    const calls = await recordedCalls(t, 20);
    const rows = await settled(t, calls.map((c) => c.id));
    for (const r of rows) {
      assert.equal(r.status, 'completed', `${r.call_sid}: ${r.error ?? ''}`);
      const file = await readFile(cache.path(t.businessId, r.call_sid));
      const spoken = (readWavScript(file)?.segments ?? []).map((s) => s.text).join(' ');
      assert.equal(r.text, spoken, `the transcript of ${r.call_sid} is what was said in it`);
    }
    const { rows: biz } = await env.pool.query<{ locale: string }>(`SELECT locale FROM businesses WHERE id = $1`, [t.businessId]);
    for (const c of calls) {
      const res = await api(env, t, 'GET', `/calls/${c.call_sid}/transcript`);
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'completed');
      assert.equal(res.body.language, biz[0]?.locale, 'transcribed in the business language');
    }
    const { rows: downloads } = await env.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs WHERE business_id = $1 AND type = 'recording_download'`,
      [t.businessId],
    );
    assert.equal(downloads[0]?.n, 20, 'one download job per recording, shared with plays');
    assert.equal((await api(env, other, 'GET', `/calls/${calls[0]?.call_sid ?? ''}/transcript`)).status, 404, 'another business’s call is not found');
  });

  test('Hebrew search finds the right call, ranked and paginated, never another business’s', async () => {
    const [mine, second] = await recordedCalls(t, 2);
    const [theirs] = await recordedCalls(other, 1);
    assert.ok(mine && second && theirs);
    await env.pool.query(`UPDATE businesses SET locale = 'he' WHERE id = ANY($1::bigint[])`, [[t.businessId, other.businessId]]);
    await putRecording(t, mine.call_sid, scriptedWav(5, HEBREW));
    await putRecording(t, second.call_sid, scriptedWav(3, { language: 'he-IL', segments: [{ start_s: 0, end_s: 3, text: 'תור תור תור לשלישי' }] }));
    await putRecording(other, theirs.call_sid, scriptedWav(5, HEBREW));
    await retranscribe(t, [mine.call_sid, second.call_sid]);
    await retranscribe(other, [theirs.call_sid]);
    await settled(t, [mine.id, second.id]);
    await settled(other, [theirs.id]);

    const tr = await api(env, t, 'GET', `/calls/${mine.call_sid}/transcript`);
    assert.equal(tr.body.status, 'completed');
    assert.equal(tr.body.language, 'he', 'a Hebrew business is transcribed in Hebrew');
    assert.equal(tr.body.text, HEBREW.segments.map((s) => s.text).join(' '));
    assert.deepEqual(tr.body.segments, HEBREW.segments);

    const found = await api(env, t, 'GET', `/calls?q=${encodeURIComponent('לקבוע')}`);
    assert.equal(found.status, 200);
    assert.deepEqual((found.body.items as Array<{ call_sid: string }>).map((c) => c.call_sid), [mine.call_sid], 'the one call that said it, not the other business’s');
    const ranked = await api(env, t, 'GET', `/calls?q=${encodeURIComponent('תור')}&limit=1`);
    const page1 = ranked.body.items as Array<{ call_sid: string }>;
    assert.deepEqual(page1.map((c) => c.call_sid), [second.call_sid], 'three mentions rank above one');
    assert.ok(typeof ranked.body.next_cursor === 'string');
    const page2 = await api(env, t, 'GET', `/calls?q=${encodeURIComponent('תור')}&limit=1&cursor=${String(ranked.body.next_cursor)}`);
    assert.deepEqual((page2.body.items as Array<{ call_sid: string }>).map((c) => c.call_sid), [mine.call_sid]);
    assert.equal(page2.body.next_cursor, null);
    const theirsFound = await api(env, other, 'GET', `/calls?q=${encodeURIComponent('לקבוע')}`);
    assert.deepEqual((theirsFound.body.items as Array<{ call_sid: string }>).map((c) => c.call_sid), [theirs.call_sid]);
    assert.deepEqual((await api(env, t, 'GET', '/calls?q=nothing-like-this')).body.items, []);
  });

  test('provider 429s slow the queue and every transcript still completes', async () => {
    const calls = await recordedCalls(t, 6);
    await settled(t, calls.map((c) => c.id));
    sim().faults.rateLimit = 4;
    const before = sim().stats.rateLimited;
    await retranscribe(t, calls.map((c) => c.call_sid));
    const rows = await settled(t, calls.map((c) => c.id));
    for (const r of rows) assert.equal(r.status, 'completed', r.error ?? '');
    assert.equal(sim().stats.rateLimited - before, 4, 'the provider refused four times');
    const { rows: failed } = await env.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM jobs WHERE business_id = $1 AND type = 'transcribe_call' AND status = 'failed'`,
      [t.businessId],
    );
    assert.equal(failed[0]?.n, 0, 'no job failed');
  });

  test('a permanent provider error (unreadable audio): failed with the reason, asked once, never retried', async () => {
    const [call] = await recordedCalls(t, 1);
    assert.ok(call);
    await settled(t, [call.id]);
    await writeFile(cache.path(t.businessId, call.call_sid), Buffer.from('this is not audio at all'));
    const before = sim().stats.rejected;
    await retranscribe(t, [call.call_sid]);
    const [row] = await settled(t, [call.id]);
    assert.equal(row?.status, 'failed');
    assert.match(row?.error ?? '', /400.*corrupted or unsupported/);
    const res = await api(env, t, 'GET', `/calls/${call.call_sid}/transcript`);
    assert.equal(res.body.status, 'failed');
    assert.match(String(res.body.error), /corrupted or unsupported/);
    const { rows: jobs } = await env.pool.query<{ status: string; attempts: number }>(
      `SELECT status, attempts FROM jobs WHERE business_id = $1 AND type = 'transcribe_call' AND params->>'call_sid' = $2 ORDER BY id DESC LIMIT 1`,
      [t.businessId, call.call_sid],
    );
    assert.equal(jobs[0]?.status, 'completed', 'the job ends; it does not loop');
    assert.equal(jobs[0]?.attempts, 1);
    assert.equal(sim().stats.rejected - before, 1, 'the provider was asked once');
  });
});
