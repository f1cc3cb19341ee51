import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { SIM_TWILIO_ACCOUNT_SID, SIM_TWILIO_AUTH_TOKEN } from '../../src/config/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { createTwilioSimulator, type TwilioSimulator } from '../../src/providers/telephony/simulator.js';
import { ADMIN_TOKEN, createTenant, startTestEnv, waitFor, waitForJob, type TestEnv } from '../helpers/harness.js';
import { spawnTs, type Child } from '../helpers/processes.js';
import { makeLeads, OUTBOUND_ENV, startRun } from '../outbound/helpers.js';

/**
 * The production commands, as separate processes, started on a database that already holds
 * work: `bulkhead worker` finds jobs of four domains queued (a recording download, a call run, a
 * WhatsApp broadcast, a bulk delete) and `bulkhead api` is hit by a direct call the moment it
 * accepts connections. Both must find every domain ready: modules start before the worker claims
 * and before the API listens (src/app/process.ts). Before that order, the worker claimed first:
 * the download (high priority, claimed at once) failed its first batch on a provider that did
 * not exist yet, a broadcast snoozed, a run did nothing; and an early direct call got a 500.
 */
let sim: TwilioSimulator;
let env: TestEnv;
const children: Child[] = [];

before(async () => {
  sim = createTwilioSimulator({ accountSid: SIM_TWILIO_ACCOUNT_SID, authToken: SIM_TWILIO_AUTH_TOKEN, callMs: 200, outcomes: 'completed:1', log: createLogger('silent') });
  await sim.start();
  // This process only prepares the database (no worker); it listens for the setup call's callbacks.
  env = await startTestEnv({ worker: false, listen: true, env: { ...OUTBOUND_ENV, TWILIO_API_BASE: sim.url } });
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await env.close();
  await sim.stop();
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

test('`bulkhead worker` and `bulkhead api` start on queued work and an early request: nothing fails, nothing 500s', async () => {
  const t = await createTenant(env);
  const leads = await makeLeads(env, t, 8);
  const run = await startRun(env, t, leads.slice(0, 4).map((l) => l.id));
  const del = await env.app.inject({ method: 'POST', url: '/api/v1/leads/bulk-delete', headers: t.headers, payload: { lead_ids: [leads[7]?.id] } });
  assert.equal(del.statusCode, 202, del.body);
  const broadcast = await env.app.inject({
    method: 'POST',
    url: '/api/v1/whatsapp/broadcasts',
    headers: t.headers,
    payload: { text: 'שלום', recipients: [{ phone: '+12125550101' }, { phone: '+12125550102' }] },
  });
  assert.equal(broadcast.statusCode, 202, broadcast.body);
  // Another business places the direct call: the run may hold all of the first one's slots.
  const caller = await createTenant(env);
  const [callee] = await makeLeads(env, caller, 1);
  // A call with a recording, placed by this process's API; playing it queues a download job.
  const placed = await env.app.inject({ method: 'POST', url: '/api/v1/outbound/calls', headers: t.headers, payload: { lead_ids: [leads[6]?.id] } });
  assert.equal(placed.statusCode, 201, placed.body);
  const recorded = (placed.json() as { calls: Array<{ call_sid: string }> }).calls[0]?.call_sid;
  await waitFor(async () => {
    const { rows } = await env.pool.query<{ recording_status: string | null }>(`SELECT recording_status FROM calls WHERE call_sid = $1`, [recorded]);
    return rows[0]?.recording_status === 'completed';
  }, 'the setup call ended with its recording');
  const play = await env.app.inject({ method: 'GET', url: `/api/v1/calls/${recorded}/recording`, headers: t.headers });
  assert.equal(play.statusCode, 202, play.body);
  const queued = [Number(play.json().job_id), run.jobId, Number(del.json().job_id), Number(broadcast.json().job_id)];

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const vars = {
    ...OUTBOUND_ENV,
    DATABASE_URL: env.url,
    TWILIO_API_BASE: sim.url,
    PUBLIC_BASE_URL: base,
    HOST: '127.0.0.1',
    PORT: String(port),
    ADMIN_TOKEN,
    LOG_LEVEL: 'info',
  };
  // The direct call is sent from the first moment the API accepts a connection. The worker
  // starts once the API is up: its WhatsApp simulator posts delivery webhooks to it.
  const [apiProc, answers] = await Promise.all([
    spawnTs('src/cli/main.ts', vars, ['api'], /API listening/),
    (async () => {
      const seen: number[] = [];
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        try {
          const res = await fetch(`${base}/api/v1/outbound/calls`, {
            method: 'POST',
            headers: { ...caller.headers, 'content-type': 'application/json' },
            body: JSON.stringify({ lead_ids: [callee?.id] }),
          });
          seen.push(res.status);
          if (res.status < 500) return { seen, body: (await res.json()) as { calls?: Array<{ call_sid: string }> } };
        } catch {
          // Not accepting connections yet.
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      return { seen, body: {} };
    })(),
  ]);
  children.push(apiProc);
  const workerProc = await spawnTs('src/cli/main.ts', vars, ['worker'], /worker running/);
  children.push(workerProc);
  assert.deepEqual(answers.seen, [201], 'the first answer of the starting API is the call, not a 5xx');

  for (const id of queued) assert.equal((await waitForJob(env, id, (j) => j.status !== 'queued' && j.status !== 'running', 30_000)).status, 'completed', `job ${id}`);
  const { rows: jobs } = await env.pool.query<{ id: number; type: string; attempts: number }>(
    `SELECT id, type, attempts FROM jobs WHERE id = ANY($1) AND attempts <> 1 AND type IN ('recording_download', 'delete_leads_bulk')`, [queued],
  );
  // (A run and a broadcast hand themselves back while they wait for calls or slots, by design.)
  assert.deepEqual(jobs, [], 'the download and the delete ran in one claim, without a failed batch');
  const sid = answers.body.calls?.[0]?.call_sid;
  assert.ok(sid, 'the direct call has a sid');
  await waitFor(async () => {
    const { rows } = await env.pool.query<{ status: string }>(`SELECT status FROM calls WHERE call_sid = $1`, [sid]);
    return rows[0]?.status === 'completed';
  }, 'the direct call completes', 20_000);

  const problems = [...workerProc.lines, ...apiProc.lines].filter((l) => /"level":(40|50|60)/.test(l));
  assert.deepEqual(problems, [], 'no process logged a warning or an error');
});
