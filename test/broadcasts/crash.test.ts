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
  // The simulator accepts twice what the workers pace at (below): a natural 130429 answered to a
  // send in flight at the kill is lost with the process and stays unknown for good (the provider
  // never reports a refused message), which made the "at most 1 unknown" bound a matter of luck
  // when pacer and cap were equal (8 such in one CI run). Refusals are scripted instead.
  b = await startBroadcastEnv({ mps: 400, latencyMs: 15 }, { worker: false });
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
    // Paced at half what the simulator accepts (see before()).
    WHATSAPP_MPS: '200',
    WORKER_HEARTBEAT_MS: '200',
    WORKER_STALE_MS: '1500',
    LOG_LEVEL: 'info',
  }, ['worker'], /worker started/);
  children.push(c);
  return c;
}

test('kill -9 mid-send: nothing is sent twice, the webhooks settle the orphans the provider accepted, the rest is sent, counts add up', async (ctx) => {
  const list = phones(1000, 0, '646');
  const optedOut = list.slice(0, 25);
  for (const p of optedOut) await api(b.env, t, 'POST', '/api/v1/whatsapp/opt-outs', { phone: p });
  const refused = list.slice(900, 910);
  for (const p of refused) b.sim.failFor(p, WA_ERRORS.notOnWhatsApp);
  // Sent after the kill: refused once with 130429, retried by the second worker.
  const throttled = list.slice(700, 710);
  for (const p of throttled) b.sim.failFor(p, WA_ERRORS.throughput, { times: 1 });
  const res = await api(b.env, t, 'POST', '/api/v1/whatsapp/broadcasts', {
    template: { name: 'spring_sale', language: 'en_US', variables: ['20%'] },
    recipients: [...list, ...list.slice(600, 640)].map((phone) => ({ phone })),
  });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.deepEqual([res.body.recipients, res.body.duplicates, res.body.skipped], [1000, 40, 25]);
  const id = res.body.broadcast_id as number;
  const jobId = res.body.job_id as number;

  const first = await workerProcess();
  // Mid-send by construction, not by timing: from the 300th message on the provider accepts but
  // keeps its answers, so the batch in flight cannot finish; the kill finds it sending. (Waiting
  // for "300 accepted and 10 sending" and then killing lost the race under load: the batch could
  // end between the check and the kill.)
  // The status webhooks are held from then on until the job has completed: the orphans are
  // reconciled as unknown first, and their statuses arrive late (the worst order). Held before
  // the first held answer, so no orphan's status slips through before the kill.
  b.holdWebhooks(true);
  b.sim.holdAnswersAfter(300);
  await waitFor(async () => {
    if (b.sim.heldAnswers < 1) return false;
    const { rows } = await b.env.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM whatsapp_recipients WHERE broadcast_id = $1 AND status = 'sending'`,
      [id],
    );
    return (rows[0]?.n ?? 0) >= 1;
  }, 'a send accepted by the provider and its answer held, with recipients sending', 30_000);
  first.kill('SIGKILL');
  await first.exited;
  b.sim.releaseAnswers();
  const { rows: leftSending } = await b.env.pool.query<{ id: number; phone: string; started: boolean }>(
    `SELECT id, phone, send_started_at IS NOT NULL AS started FROM whatsapp_recipients WHERE broadcast_id = $1 AND status = 'sending'`,
    [id],
  );
  assert.ok(leftSending.length > 0, 'killed mid-send: recipients were left sending');
  // Started: the request may have left (never resent). Not started: only claimed for a later slot.
  const orphanRows = leftSending.filter((o) => o.started);
  const unstarted = leftSending.filter((o) => !o.started);
  const acceptedAtKill = b.sim.accepted.length;

  const second = await workerProcess();
  const job = await waitForJob(b.env, jobId, 'completed', 60_000);
  const atCompletion = await recipientRows(b.env.pool, id);
  const unknownAtCompletion = atCompletion.filter((r) => r.reason === 'unknown_outcome').length;
  assert.equal(unknownAtCompletion, orphanRows.length, 'without their webhooks, the started orphans of the kill are unknown');
  b.holdWebhooks(false);
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
  const acceptedOrphans = orphanRows.filter((o) => times.has(o.phone));
  const unknown = rows.filter((r) => r.reason === 'unknown_outcome' || r.status === 'sending').length;
  ctx.diagnostic(`left sending by the kill: ${leftSending.length}, started ${orphanRows.length} (the provider had accepted ${acceptedOrphans.length}); unknown at completion: ${unknownAtCompletion}, after the webhooks: ${unknown}; 130429 refusals: ${b.sim.refusals.get(WA_ERRORS.throughput) ?? 0}; webhook give-ups: ${b.sim.webhookFailures}; counts ${JSON.stringify(view.counts)}`);
  for (const o of orphanRows) {
    const r = by.get(o.phone);
    assert.ok((times.get(o.phone) ?? 0) <= 1, 'an orphan is never resent');
    // The provider accepted it: its statuses named the recipient (callback data), it is settled.
    if (times.has(o.phone)) assert.deepEqual([r?.status, r?.reason, r?.message_id === null], ['read', null, false], `orphan ${o.phone} settled by its webhooks`);
    else assert.deepEqual([r?.status, r?.reason], ['failed', 'unknown_outcome'], 'an orphan the provider never reported stays unknown');
  }
  for (const o of unstarted) {
    assert.equal(times.get(o.phone), 1, `${o.phone}: claimed but never started, so sent (once) by the successor`);
    assert.equal(by.get(o.phone)?.reason === 'unknown_outcome', false);
  }
  for (const p of refused) assert.equal(by.get(p)?.reason, 'not_on_whatsapp');
  for (const r of rows) {
    if (['sent', 'delivered', 'read'].includes(r.status)) assert.equal(times.get(r.phone), 1, `${r.phone} sent exactly once`);
    if (r.status === 'skipped') assert.equal(times.get(r.phone), undefined);
  }
  // What stays unknown is exactly the sends whose request the kill cut before the provider had
  // it: every orphan the provider accepted was settled above. How many requests are in flight at
  // the instant of a kill -9 depends on the machine's load (0 in most runs, 5 of 22 in one run
  // with another suite beside it), so the mechanism is asserted, not a count of that instant.
  assert.equal(unknown, orphanRows.length - acceptedOrphans.length, 'only orphans the provider never accepted stay unknown');
  assert.ok(acceptedOrphans.length === 0 || unknown < orphanRows.length, 'the webhooks settled the accepted orphans');
  assert.equal(view.counts.failed, unknown + refused.length, 'the broadcast counts follow the corrections');
  assert.equal(rows.filter((r) => r.reason === 'retries_exhausted').length, 0);
  assert.ok((b.sim.refusals.get(WA_ERRORS.throughput) ?? 0) >= throttled.length, '130429 refusals happened');
  for (const p of throttled) assert.deepEqual([by.get(p)?.status, times.get(p)], ['read', 1], `${p}: rate-limited, retried, sent once`);
  assert.equal(view.counts.read, 1000 - 25 - view.counts.failed);
});
