/**
 * Issue 12.6: an operator can close /metrics (METRICS_TOKEN) and /docs (DOCS_TOKEN), and every
 * answer — JSON, errors, the dashboard, webhooks, the SSE stream, Node's own refusals — carries
 * `X-Content-Type-Options: nosniff`.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { createTenant, startTestEnv, type Tenant, type TestEnv } from '../helpers/harness.js';

const METRICS_TOKEN = 'metrics-token-0123456789';
const DOCS_TOKEN = 'docs-token-0123456789abc';

describe('configuration', () => {
  test('METRICS_TOKEN and DOCS_TOKEN are optional (empty = unset) and at least 16 characters when set', () => {
    assert.deepEqual(loadConfig({}).ops, { metricsToken: null, docsToken: null });
    assert.deepEqual(loadConfig({ METRICS_TOKEN: '', DOCS_TOKEN: '' }).ops, { metricsToken: null, docsToken: null });
    assert.deepEqual(loadConfig({ METRICS_TOKEN, DOCS_TOKEN }).ops, { metricsToken: METRICS_TOKEN, docsToken: DOCS_TOKEN });
    assert.throws(() => loadConfig({ METRICS_TOKEN: 'short' }), (err: unknown) => err instanceof ConfigError && /METRICS_TOKEN/.test(err.message));
    assert.throws(() => loadConfig({ DOCS_TOKEN: 'short' }), (err: unknown) => err instanceof ConfigError && /DOCS_TOKEN/.test(err.message));
  });
});

describe('with METRICS_TOKEN and DOCS_TOKEN set', () => {
  let env: TestEnv;
  let t: Tenant;

  before(async () => {
    env = await startTestEnv({ worker: false, listen: true, env: { METRICS_TOKEN, DOCS_TOKEN } });
    t = await createTenant(env);
  });
  after(() => env.close());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${env.baseUrl}${path}`, { headers });
  const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

  test('/metrics answers only the bearer METRICS_TOKEN; others get a 401 in the error envelope', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: `Bearer ${DOCS_TOKEN}` }, basic('', METRICS_TOKEN), { authorization: METRICS_TOKEN }]) {
      const res = await get('/metrics', headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
      const body = (await res.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'unauthorized');
    }
    const ok = await get('/metrics', { authorization: `Bearer ${METRICS_TOKEN}` });
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), /bulkhead_jobs/);
  });

  test('/docs and its OpenAPI document answer the DOCS_TOKEN as bearer or as the Basic password; a browser is asked for it', async () => {
    for (const path of ['/docs', '/docs/', '/docs/json', '/docs/yaml']) {
      const refused = await get(path);
      assert.equal(refused.status, 401, path);
      assert.match(refused.headers.get('www-authenticate') ?? '', /^Basic realm="Bulkhead API docs"/);
      for (const headers of [basic('x', 'wrong'), basic('', METRICS_TOKEN), { authorization: `Bearer ${METRICS_TOKEN}` }]) {
        assert.equal((await get(path, headers)).status, 401, `${path} ${JSON.stringify(headers)}`);
      }
      for (const headers of [{ authorization: `Bearer ${DOCS_TOKEN}` }, basic('', DOCS_TOKEN), basic('ops', DOCS_TOKEN)]) {
        const res = await get(path, headers);
        assert.ok(res.status === 200 || res.status === 302, `${path} ${JSON.stringify(headers)}: ${res.status}`);
      }
    }
    const spec = await get('/docs/json', basic('', DOCS_TOKEN));
    assert.equal(((await spec.json()) as { openapi: string }).openapi.slice(0, 2), '3.');
  });

  test('the rest stays as it was: /healthz, /readyz and the dashboard need no token', async () => {
    for (const path of ['/healthz', '/readyz', '/']) assert.equal((await get(path)).status, 200, path);
  });

  test('every kind of answer carries X-Content-Type-Options: nosniff', async () => {
    const job = await fetch(`${env.baseUrl}/api/v1/leads/bulk-delete`, {
      method: 'POST', headers: { ...t.headers, 'content-type': 'application/json' }, body: JSON.stringify({ lead_ids: [999_999] }),
    });
    assert.equal(job.status, 202);
    const { job_id: jobId } = (await job.json()) as { job_id: number };

    const requests: [string, string, RequestInit, number][] = [
      ['JSON 200', '/api/v1/jobs', { headers: t.headers }, 200],
      ['health', '/healthz', {}, 200],
      ['metrics', '/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }, 200],
      ['docs', '/docs/json', { headers: { authorization: `Bearer ${DOCS_TOKEN}` } }, 200],
      ['dashboard', '/', {}, 200],
      ['401 without a token', '/api/v1/jobs', {}, 401],
      ['401 of the docs', '/docs/json', {}, 401],
      ['404 no route', '/no/such/route', {}, 404],
      ['404 not the caller\'s', '/api/v1/jobs/999999999', { headers: t.headers }, 404],
      ['400 validation', '/api/v1/leads', { method: 'POST', headers: { ...t.headers, 'content-type': 'application/json' }, body: '{"phone": 5}' }, 400],
      ['400 invalid JSON', '/api/v1/leads', { method: 'POST', headers: { ...t.headers, 'content-type': 'application/json' }, body: '{' }, 400],
      ['400 router error', '/api/v1/jobs/%E0%A4%A', { headers: t.headers }, 400],
      ['415', '/api/v1/leads', { method: 'POST', headers: { ...t.headers, 'content-type': 'application/xml' }, body: '<x/>' }, 415],
      ['webhook refused', '/webhooks/twilio/voice/status', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'CallSid=CA1' }, 0],
    ];
    for (const [what, path, init, status] of requests) {
      const res = await fetch(`${env.baseUrl}${path}`, init);
      if (status) assert.equal(res.status, status, what);
      else assert.ok(res.status >= 400 && res.status < 500, `${what}: ${res.status}`);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', what);
      await res.arrayBuffer();
    }

    // The SSE stream writes its own head after hijacking the reply.
    const abort = new AbortController();
    const stream = await fetch(`${env.baseUrl}/api/v1/jobs/${jobId}/events`, { headers: t.headers, signal: abort.signal });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(stream.headers.get('x-content-type-options'), 'nosniff', 'SSE');
    abort.abort();
    await fetch(`${env.baseUrl}/api/v1/jobs/${jobId}/cancel`, { method: 'POST', headers: t.headers });

    // A request Node's HTTP parser refuses never reaches Fastify; its answer is written by hand.
    const { port } = new URL(env.baseUrl);
    const raw = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'));
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /\r\nx-content-type-options: nosniff\r\n/i);
  });
});
