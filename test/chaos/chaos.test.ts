import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CHAOS_ENV, SIZES } from '../../bench/chaos/config.js';
import { Cluster } from '../../bench/chaos/lib/cluster.js';
import { killWorkers, mixedLoad, providerFaults, restartPostgres, soak, type Ctx, type ScenarioResult } from '../../bench/chaos/scenarios.js';

/**
 * The chaos suite (`npm run chaos`, bench/chaos/) with tiny sizes: the same scenarios and checks
 * on a real deployment — its own embedded PostgreSQL (the restart scenario stops and starts it,
 * so it cannot be the server the other test files share), one simulator process, 1 API and
 * 2 worker processes. Every check of every scenario must pass.
 */
let cluster: Cluster;
let ctx: Ctx;

before(async () => {
  cluster = await Cluster.start({ apis: 1, workers: 2, env: { ...CHAOS_ENV, LOG_LEVEL: 'info' }, embedded: true, sim: { callMs: 600 } });
  ctx = { cluster, progress: () => undefined };
});

after(async () => {
  await cluster?.stop();
});

function assertAllPass(r: ScenarioResult): void {
  const failed = r.checks.filter((c) => !c.pass).map((c) => `${c.check}: ${c.measured} (target ${c.target})`);
  assert.deepEqual(failed, [], `${r.name}: failed checks`);
  assert.ok(r.checks.length > 0);
}

describe('chaos suite, tiny sizes', { timeout: 120_000 }, () => {
  test('mixed load: no 5xx, gate exact, call caps, no job lost', async () => {
    assertAllPass(await mixedLoad(ctx, SIZES.test.mixed));
  });

  test('kill -9 of workers: every job completes, exact counts, no duplicate call or message', async () => {
    assertAllPass(await killWorkers(ctx, SIZES.test.kill));
  });

  test('PostgreSQL restart: processes reconnect by themselves, nothing lost', async () => {
    assertAllPass(await restartPostgres(ctx, SIZES.test.restart));
  });

  test('provider faults: invariants hold, failures reported', async () => {
    assertAllPass(await providerFaults(ctx, SIZES.test.faults));
  });

  test('soak: import, update, delete through bulk jobs; retention prunes old jobs', async () => {
    assertAllPass(await soak(ctx, SIZES.test.soak));
  });
});
