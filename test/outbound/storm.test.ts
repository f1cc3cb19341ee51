import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ACTIVE_SQL } from '../../src/outbound/calls.repo.js';
import { createTenant, waitForJob, type Tenant } from '../helpers/harness.js';
import { activeByBusiness, api, makeLeads, startOutboundEnv, startRun, type OutboundEnv } from './helpers.js';

/**
 * 50 businesses with limits 1–4, three overlapping runs each (per-run concurrency 1–3) plus
 * direct calls fired in parallel, on 50 ms simulated calls. Active calls are sampled all along —
 * in our calls table and at the simulator — and must never exceed any business's limit, nor put
 * a lead in two calls at once; every lead is called exactly once per run; every run completes.
 */
let env: OutboundEnv;

before(async () => {
  env = await startOutboundEnv({ SIM_CALL_MS: '50', DB_POOL_MAX: '20', WORKER_CONCURRENCY: '8' });
});

after(async () => {
  await env.close();
});

const BUSINESSES = 50;

test('storm: 50 businesses × 3 runs + direct calls: never above the limit, one call per lead per run, all runs complete', async () => {
  const tenants: Array<{ t: Tenant; limit: number; leads: Array<{ id: number; phone: string }> }> = [];
  for (let i = 0; i < BUSINESSES; i++) {
    const limit = 1 + (i % 4);
    const t = await createTenant(env, { max_outbound_calls: limit });
    tenants.push({ t, limit, leads: await makeLeads(env, t, 12) });
  }
  const limitOf = new Map(tenants.map((x) => [x.t.businessId, x.limit]));
  const businessOfPhone = new Map(tenants.flatMap((x) => x.leads.map((l) => [l.phone, x.t.businessId] as const)));

  const violations: string[] = [];
  let samples = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const ours = await activeByBusiness(env);
      for (const [b, n] of ours) if (n > (limitOf.get(b) ?? 0)) violations.push(`db: business ${b} had ${n} > ${limitOf.get(b)}`);
      const atSim = new Map<number, number>();
      const perLead = new Map<string, number>();
      for (const c of env.sim.calls.values()) {
        if (c.status === 'completed' || c.status === 'busy' || c.status === 'no-answer' || c.status === 'failed' || c.status === 'canceled') continue;
        const b = businessOfPhone.get(c.to) ?? -1;
        atSim.set(b, (atSim.get(b) ?? 0) + 1);
        perLead.set(c.to, (perLead.get(c.to) ?? 0) + 1);
      }
      // The runs overlap (leads 3–9 are in two runs): a lead must still never be in two calls at once.
      for (const [phone, n] of perLead) if (n > 1) violations.push(`sim: lead ${phone} in ${n} calls at once`);
      for (const [b, n] of atSim) if (n > (limitOf.get(b) ?? 0)) violations.push(`sim: business ${b} had ${n} > ${limitOf.get(b)}`);
      samples += 1;
    }
  })();

  const started = Date.now();
  const runs = (
    await Promise.all(
      tenants.map(async ({ t, leads }, i) => {
        const ids = leads.map((l) => l.id);
        const sets = [ids.slice(0, 6), ids.slice(3, 9), ids.slice(6, 12)];
        return Promise.all(sets.map(async (set, k) => ({ t, set, ...(await startRun(env, t, set, 1 + ((i + k) % 3))) })));
      }),
    )
  ).flat();
  const direct = { created: 0, refused: 0, busy: 0 };
  await Promise.all(
    tenants.map(async ({ t, leads }) => {
      for (let k = 0; k < 4; k++) {
        const lead = leads[(k * 7) % leads.length];
        const res = await api(env, t, 'POST', '/outbound/calls', { lead_ids: [lead?.id] });
        if (res.status === 201) direct.created += 1;
        else if (res.status === 429) direct.refused += 1;
        else if (res.status === 409) direct.busy += 1;
        else assert.fail(`direct call: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }),
  );
  // Every run completes. The storm is CPU-bound (920 calls through webhooks, jobs and the
  // simulator), so on a loaded machine it takes longer: the wait is for progress, not for a fixed
  // time. It fails when a run fails, or when no call settled and no run completed for 20 s (a
  // stuck run), naming the stuck items. (A fixed 60 s per run was at the edge: the first run
  // awaited, of a business allowed one call at a time, ends with the storm, 59 s on a loaded run.)
  const jobIds = runs.map((r) => r.jobId);
  let mark = '';
  let progressAt = Date.now();
  for (;;) {
    const { rows: [p] } = await env.pool.query<{ done: number; failed: number; settled: number }>(
      `SELECT count(*) FILTER (WHERE status = 'completed')::int AS done,
              count(*) FILTER (WHERE status IN ('failed', 'cancelled'))::int AS failed,
              (SELECT count(*) FROM calls WHERE status NOT IN ${ACTIVE_SQL})::int AS settled
         FROM jobs WHERE id = ANY($1::bigint[])`,
      [jobIds],
    );
    assert.ok(p, 'progress row');
    assert.equal(p.failed, 0, 'no run failed');
    if (p.done === runs.length) break;
    if (`${p.done}/${p.settled}` !== mark) {
      mark = `${p.done}/${p.settled}`;
      progressAt = Date.now();
    } else if (Date.now() - progressAt > 20_000) {
      const { rows: stuck } = await env.pool.query(
        `SELECT i.run_id, i.id, i.status, i.attempts, i.error, i.next_attempt_at, c.status AS call_status, c.call_sid, c.error AS call_error, c.created_at, c.checked_at
           FROM run_items i JOIN outbound_runs r ON r.id = i.run_id LEFT JOIN calls c ON c.id = i.call_id
          WHERE r.job_id = ANY($1::bigint[]) AND i.status NOT IN ('completed','busy','no_answer','failed','cancelled','skipped') LIMIT 20`,
        [jobIds],
      );
      assert.fail(`no progress for 20 s: ${p.done} of ${runs.length} runs completed, ${p.settled} calls settled; stuck: ${JSON.stringify(stuck)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const r of runs) assert.equal((await waitForJob(env, r.jobId, 'completed', 1000)).processed, r.set.length);
  const elapsed = Date.now() - started;
  sampling = false;
  await sampler;

  assert.deepEqual(violations.slice(0, 5), [], 'never above a business’s limit');
  assert.ok(samples > 20, `sampled ${samples} times`);
  const { rows } = await env.pool.query<{ run_id: number; lead_id: number; n: number }>(
    `SELECT run_id, lead_id, count(*)::int AS n FROM calls WHERE run_id IS NOT NULL GROUP BY run_id, lead_id`,
  );
  const perRunLead = new Map(rows.map((r) => [`${r.run_id}:${r.lead_id}`, r.n]));
  for (const r of runs) for (const lead of r.set) assert.equal(perRunLead.get(`${r.runId}:${lead}`), 1, `run ${r.runId} lead ${lead}`);
  assert.equal(rows.length, runs.reduce((n, r) => n + r.set.length, 0));
  const { rows: total } = await env.pool.query<{ n: number; placed: number }>(
    `SELECT count(*)::int AS n, count(call_sid)::int AS placed FROM calls`,
  );
  assert.equal(env.sim.calls.size, total[0]?.placed, 'the provider saw exactly the calls we placed');
  assert.equal(total[0]?.n, total[0]?.placed, 'every call confirmed');
  assert.ok(direct.created > 0, JSON.stringify(direct));
  console.log(`storm: ${runs.length} runs, ${total[0]?.n} calls, direct ${JSON.stringify(direct)}, ${samples} samples, ${elapsed} ms`);
});
