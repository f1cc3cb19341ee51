import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { BroadcastsModule } from '../../src/broadcasts/module.js';
import { classifySendFailure } from '../../src/providers/whatsapp/classify.js';
import { createCloudApiClient } from '../../src/providers/whatsapp/cloud-api.js';
import { WhatsAppSimulator } from '../../src/providers/whatsapp/simulator.js';
import { createTenant, startTestEnv, waitForJob, type TestEnv } from '../helpers/harness.js';
import { api, getBroadcast, phones } from './helpers.js';

describe('the simulator speaks the Cloud API (through the real adapter)', () => {
  const sim = new WhatsAppSimulator({ appSecret: 'sim-app-secret', token: 'tok', mps: 5, pairIntervalMs: 60_000, webhookUrl: () => null });
  let url = '';
  before(async () => {
    url = await sim.start();
  });
  after(async () => {
    await sim.stop();
    await sim.stop();
  });

  test('throughput 130429 beyond the cap, pair rate 131056, bad token 190, demo numbers', async () => {
    const client = createCloudApiClient({ apiBase: url, apiVersion: 'v21.0', phoneNumberId: '123', token: 'tok' });
    const results = await Promise.all(phones(8, 8000).map((to) => client.send({ to, content: { type: 'text', text: 'x' } })));
    assert.equal(results.filter((r) => r.ok).length, 5);
    const refused = results.filter((r) => !r.ok).map((r) => (r.ok ? null : classifySendFailure(r).reason));
    assert.deepEqual(refused, ['rate_limited', 'rate_limited', 'rate_limited']);

    sim.setMps(1000);
    const first = results.findIndex((r) => r.ok);
    const again = await client.send({ to: phones(8, 8000)[first] ?? '', content: { type: 'text', text: 'y' } });
    assert.equal(again.ok ? null : classifySendFailure(again).reason, 'pair_rate_limited');

    const bad = await createCloudApiClient({ apiBase: url, apiVersion: 'v21.0', phoneNumberId: '123', token: 'wrong' }).send({ to: '+12125550100', content: { type: 'text', text: 'x' } });
    assert.deepEqual(bad.ok ? null : [bad.httpStatus, classifySendFailure(bad).kind], [401, 'stop']);

    const demo = await client.send({ to: '+12125599026', content: { type: 'template', name: 'hello_world', language: 'en_US' } });
    assert.equal(demo.ok ? null : classifySendFailure(demo).reason, 'not_on_whatsapp');
    assert.equal(sim.acceptedCount(phones(8, 8000)[first] ?? ''), 1);
  });

  test('nothing listening: not sent, safe to retry', async () => {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const client = createCloudApiClient({ apiBase: `http://127.0.0.1:${port}`, apiVersion: 'v21.0', phoneNumberId: '1', token: 'tok' });
    const r = await client.send({ to: '+12125550100', content: { type: 'text', text: 'x' } });
    assert.deepEqual(r.ok ? null : classifySendFailure(r).kind, 'retry');
  });
});

describe('`npm start` wiring: the module starts an in-process simulator in the worker role', () => {
  let env: TestEnv;
  before(async () => {
    env = await startTestEnv({ listen: true });
  });
  after(async () => {
    await env.close();
  });

  test('a broadcast is sent and its statuses come back signed over HTTP', async () => {
    const module = env.modules.find((m) => m.name === 'broadcasts') as BroadcastsModule | undefined;
    const sim = module?.simulator();
    assert.ok(sim, 'an in-process simulator was started');
    const t = await createTenant(env);
    const res = await api(env, t, 'POST', '/api/v1/whatsapp/broadcasts', { template: { name: 'hello_world', language: 'en_US' }, recipients: phones(5, 9000).map((phone) => ({ phone })) });
    assert.equal(res.status, 202);
    await waitForJob(env, res.body.job_id as number, 'completed');
    await sim.drained();
    const view = await getBroadcast(env, t, res.body.broadcast_id as number);
    assert.equal(view.counts.read, 5);
  });
});
