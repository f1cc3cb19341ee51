import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WA_ERRORS } from '../../src/providers/whatsapp/types.js';
import { waitFor, waitForJob, type Tenant } from '../helpers/harness.js';
import { spawnTs, type Child } from '../helpers/processes.js';
import { api, createTenant, phones, recipientRows, startBroadcastEnv, sumCounts, waitForSettled, type BroadcastEnv } from './helpers.js';

/**
 * kill -9 of a real `bulkhead worker` process in the middle of a broadcast. The simulator lives
 * in this test process, so its record of accepted messages survives the kill: it is the proof
 * that no recipient was sent twice.
 */
let b: BroadcastEnv;
let t: Tenant;
const children: Child[] = [];

before(async () => {
  b = await startBroadcastEnv({ mps: 200, latencyMs: 15 }, { worker: false });
  t = await createTenant(b.env);
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await b.close();
});

async function workerProcess(): Promise<Child> {
  const c = await spawnTs('src/cli/main.ts', {
    DATABASE_URL: b.env.url,
    WHATSAPP_API_BASE: b.sim.url,
    // Paced above what the simulator accepts: bursts are refused with 130429 and retried.
    WHATSAPP_MPS: '300',
    WORKER_HEARTBEAT_MS: '200',
    WORKER_STALE_MS: '1500',
    LOG_LEVEL: 'info',
  }, ['worker'], /worker started/);
  children.push(c);
  return c;
}

test('kill -9 mid-send: nothing is sent twice, orphans are accounted as unknown, the rest is sent, counts add up', async (ctx) => {
  const list = phones(1000, 0, '646');
  const optedOut = list.slice(0, 25);
  for (const p of optedOut) await api(b.env, t, 'POST', '/api/v1/whatsapp/opt-outs', { phone: p });
  const refused = list.slice(900, 910);
  for (const p of refused) b.sim.failFor(p, WA_ERRORS.notOnWhatsApp);
  const res = await api(b.env, t, 'POST', '/api/v1/whatsapp/broadcasts', {
    template: { name: 'spring_sale', language: 'en_US', variables: ['20%'] },
    recipients: [...list, ...list.slice(600, 640)].map((phone) => ({ phone })),
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.deepEqual([res.body.recipients, res.body.duplicates, res.body.skipped], [1000, 40, 25]);
  const id = res.body.broadcast_id as number;
  const jobId = res.body.job_id as number;

  const first = await workerProcess();
  await waitFor(async () => b.sim.accepted.length >= 300, '300 messages accepted', 30_000);
  first.kill('SIGKILL');
  await first.exited;
  const { rows: orphanRows } = await b.env.pool.query<{ id: number; phone: string }>(
    `SELECT id, phone FROM whatsapp_recipients WHERE broadcast_id = $1 AND status = 'sending'`,
    [id],
  );
  assert.ok(orphanRows.length > 0, 'killed mid-send: recipients were left sending');
  const acceptedAtKill = b.sim.accepted.length;

  const second = await workerProcess();
  const job = await waitForJob(b.env, jobId, 'completed', 60_000);
  const view = await waitForSettled(b, t, id);
  second.kill('SIGTERM');
  assert.equal(await second.exited, 0);

  assert.equal(sumCounts(view.counts), 1000, 'counts add up');
  assert.equal(job.total, 1000);
  assert.deepEqual([view.counts.queued, view.counts.sending, view.counts.skipped], [0, 0, 25]);
  const times = new Map<string, number>();
  for (const m of b.sim.accepted) times.set(m.to, (times.get(m.to) ?? 0) + 1);
  assert.deepEqual([...times].filter(([, n]) => n > 1), [], 'no phone accepted twice');
  assert.ok(b.sim.accepted.length > acceptedAtKill, 'the second worker sent the rest');

  const rows = await recipientRows(b.env.pool, id);
  const by = new Map(rows.map((r) => [r.phone, r]));
  for (const o of orphanRows) {
    const r = by.get(o.phone);
    assert.deepEqual([r?.status, r?.reason], ['failed', 'unknown_outcome'], 'an orphan is accounted, never resent');
    assert.ok((times.get(o.phone) ?? 0) <= 1);
  }
  for (const p of refused) assert.equal(by.get(p)?.reason, 'not_on_whatsapp');
  for (const r of rows) {
    if (['sent', 'delivered', 'read'].includes(r.status)) assert.equal(times.get(r.phone), 1, `${r.phone} sent exactly once`);
    if (r.status === 'skipped') assert.equal(times.get(r.phone), undefined);
  }
  const unknown = rows.filter((r) => r.reason === 'unknown_outcome').length;
  ctx.diagnostic(`orphans of the kill: ${unknown} (of which the provider had accepted ${orphanRows.filter((o) => times.has(o.phone)).length}); 130429 refusals: ${b.sim.refusals.get(WA_ERRORS.throughput) ?? 0}; webhook give-ups: ${b.sim.webhookFailures}; counts ${JSON.stringify(view.counts)}`);
  assert.equal(unknown, orphanRows.length, 'only the orphans of the kill are unknown');
  // A wave at 300 msg/s is 30 recipients; one is claimed while the previous one is still in flight.
  assert.ok(unknown <= 90, `at most about three waves are lost to the kill (${unknown})`);
  assert.equal(view.counts.failed, unknown + refused.length);
  assert.equal(rows.filter((r) => r.reason === 'retries_exhausted').length, 0);
  assert.ok((b.sim.refusals.get(WA_ERRORS.throughput) ?? 0) > 0, 'bursts were rate-limited and retried');
  assert.equal(view.counts.read, 1000 - 25 - view.counts.failed);
});
