/**
 * Refusing is cheap (issue 12): shape limits checked before JSON.parse, per-route body limits, a
 * request budget per token and address that refused requests drain too, and server timeouts.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { jsonShapeProblem, JsonShapeScanner } from '../../src/http/json-limits.js';
import { RequestBudget } from '../../src/http/request-budget.js';
import { createTenant, startTestEnv, type TestEnv } from '../helpers/harness.js';

describe('jsonShapeProblem', () => {
  const limits = { maxDepth: 4, maxKeys: 3, maxItems: 5 };

  test('accepts bodies within the limits, whatever their strings hold', () => {
    assert.equal(jsonShapeProblem('{"a":[1,2,3,4,5],"b":{"c":[[1]]},"d":"[[[[[[,,,,,,{{{{"}', limits), null);
    assert.equal(jsonShapeProblem('{"a":"quote \\" and backslash \\\\","b":"\\\\\\"[[[[[[["}', limits), null);
    assert.equal(jsonShapeProblem('[]', limits), null);
  });

  test('refuses depth, keys and items beyond the limits', () => {
    assert.match(jsonShapeProblem('[[[[[1]]]]]', limits) ?? '', /deeper than 4/);
    assert.match(jsonShapeProblem('{"a":1,"b":2,"c":3,"d":4}', limits) ?? '', /more than 3 keys/);
    assert.match(jsonShapeProblem('[1,2,3,4,5,6]', limits) ?? '', /more than 5 items/);
    // Counts are per container: two arrays of five are fine, and closing one restarts the count.
    assert.equal(jsonShapeProblem('[[1,2,3,4,5],[1,2,3,4,5]]', limits), null);
  });

  test('an 8-million-level body is refused after its first levels, in far less than parsing it takes', () => {
    const deep = Buffer.from('['.repeat(8_000_000) + ']'.repeat(8_000_000));
    const t0 = performance.now();
    assert.match(jsonShapeProblem(deep) ?? '', /deeper than 32/);
    assert.ok(performance.now() - t0 < 50);
  });
});

test('flags the escapes that can carry text PostgreSQL cannot store, across chunk boundaries', () => {
  const suspect = (...chunks: string[]) => {
    const scanner = new JsonShapeScanner();
    for (const c of chunks) scanner.feed(Buffer.from(c));
    return scanner.suspectText;
  };
  assert.equal(suspect('{"a":"caf\\u00e9 \\n \\\\u0000"}'), false, 'an escaped backslash before u0000 is not an escape');
  assert.equal(suspect('{"a":"x\\u0000"}'), true);
  assert.equal(suspect('{"a":"x\\ud8', '00"}'), true);
  assert.equal(suspect('{"a":"\\', 'uDC00"}'), true);
  assert.equal(suspect('{"\\u0000":1}'), true, 'keys too');
});

describe('RequestBudget', () => {
  test('refills at its rate up to its burst, and a costly charge waits proportionally', () => {
    let now = 0;
    const budget = new RequestBudget({ perSecond: 10, burst: 20 }, () => now);
    for (let i = 0; i < 20; i += 1) {
      assert.equal(budget.waitS('k'), 0);
      budget.charge('k', 1);
    }
    assert.ok(Math.abs(budget.waitS('k') - 0.1) < 1e-9, 'empty: the next unit comes in 0.1 s');
    now += 100;
    assert.equal(budget.waitS('k'), 0);
    budget.charge('k', 2_500); // a refused request that cost 2.5 s
    assert.ok(budget.waitS('k') > 249 && budget.waitS('k') < 251);
    assert.equal(budget.waitS('other'), 0, 'buckets are per key');
  });
});

describe('over HTTP', () => {
  let env: TestEnv;

  before(async () => {
    env = await startTestEnv({
      worker: false,
      listen: true,
      env: { API_RATE_PER_S: '5', API_RATE_BURST: '10', HTTP_REQUEST_TIMEOUT_MS: '1000', HTTP_HEADERS_TIMEOUT_MS: '1000' },
    });
  });
  after(async () => {
    await env?.close();
  });

  test('a body over its route limit is refused 413 before it is read; list routes take larger ones', async () => {
    // Each test its own business: the budget is per token, and small here.
    const tenant = await createTenant(env);
    const note = await env.app.inject({
      method: 'POST', url: '/api/v1/leads', headers: { ...tenant.headers, 'content-type': 'application/json' },
      payload: JSON.stringify({ phone: '+12125550100', name: 'x'.repeat(300 * 1024) }),
    });
    assert.equal(note.statusCode, 413);
    assert.equal(note.json().error.code, 'payload_too_large');
    const ids = Array.from({ length: 100_000 }, (_, i) => i + 1_000_000);
    const bulk = await env.app.inject({ method: 'POST', url: '/api/v1/leads/bulk-delete', headers: tenant.headers, payload: { lead_ids: ids } });
    assert.notEqual(bulk.statusCode, 413, 'a 100 000-id list fits its route');
  });

  test('a body nested too deep is a 400 naming the limit', async () => {
    // Each test its own business: the budget is per token, and small here.
    const tenant = await createTenant(env);
    const res = await env.app.inject({
      method: 'POST', url: '/api/v1/leads/bulk-delete', headers: { ...tenant.headers, 'content-type': 'application/json' },
      payload: `{"lead_ids":${'['.repeat(100)}${']'.repeat(100)}}`,
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().error.message, /deeper than 32 levels/);
  });

  test('refused requests drain the token budget: then 429 rate_limited with Retry-After, and other tokens are untouched', async () => {
    // Each test its own business: the budget is per token, and small here.
    const tenant = await createTenant(env);
    const other = await createTenant(env);
    const bad = () => fetch(`${env.baseUrl}/api/v1/leads`, { method: 'POST', headers: { ...tenant.headers, 'content-type': 'application/json' }, body: '{"phone":1}' });
    const statuses: number[] = [];
    for (let i = 0; i < 30 && !statuses.includes(429); i += 1) statuses.push((await bad()).status);
    assert.ok(statuses.includes(429), `ran out of budget: ${statuses.join(',')}`);
    const refused = await bad();
    assert.equal(refused.status, 429);
    const body = (await refused.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'rate_limited');
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    const ok = await fetch(`${env.baseUrl}/api/v1/leads`, { headers: other.headers });
    assert.equal(ok.status, 200, 'another business is not limited by it');
  });

  test('a connection whose body never comes is answered 408 and closed within the request timeout', async () => {
    // Each test its own business: the budget is per token, and small here.
    const tenant = await createTenant(env);
    const socket = net.connect(Number(new URL(env.baseUrl).port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const t0 = performance.now();
    // Authenticated, so the server does wait for the body (an unauthenticated one is answered 401 at once).
    socket.write(`POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tenant.token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"ph`);
    let received = '';
    socket.on('data', (c: Buffer) => (received += c.toString('utf8')));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const elapsed = performance.now() - t0;
    // 1 s timeout, checked every second by Node: closed within ~2 s, not held open indefinitely.
    assert.ok(elapsed < 3_500, `closed after ${elapsed.toFixed(0)} ms`);
    assert.match(received, /^HTTP\/1\.1 408/);
  });
});
