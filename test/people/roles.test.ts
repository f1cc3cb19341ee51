import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { buildApp } from '../../src/http/app.js';
import { createAppMetrics } from '../../src/http/metrics.js';
import { accessOf } from '../../src/http/roles.js';
import { createTenant, startTestEnv, type Tenant, type TestEnv } from '../helpers/harness.js';
import { http, tokenWithRole } from './helpers.js';

let env: TestEnv;
let owner: Tenant;

before(async () => {
  env = await startTestEnv({ listen: true, worker: false });
  owner = await createTenant(env);
});
after(() => env.close());

/**
 * API.md: agents may read, add leads, notes, activities (and reminders, a lead's own child),
 * place direct calls, and put a number on the do-not-call or opt-out list (stopping contact is
 * never withheld). Everything else under /api/v1 changes the business and needs admin or owner.
 * A new route fails this test until it is placed on one side.
 */
const AGENT_MAY_CHANGE = new Set([
  'POST /api/v1/leads',
  'POST /api/v1/leads/:id/notes',
  'POST /api/v1/leads/:id/activities',
  'POST /api/v1/leads/:id/reminders',
  'POST /api/v1/outbound/calls',
  'POST /api/v1/outbound/dnc',
  'POST /api/v1/whatsapp/opt-outs',
  'POST /api/v1/auth/logout',
  // Its own tokens only (the handler asks admin for anyone else's): `bulkhead logout`.
  'DELETE /api/v1/tokens/:id',
]);
/** Reads that are not for agents: who works here, their tokens, the audit trail, the trash. */
const ADMIN_READS = new Set(['GET /api/v1/users', 'GET /api/v1/tokens', 'GET /api/v1/audit', 'GET /api/v1/trash/leads']);
const PUBLIC = new Set(['POST /api/v1/auth/login', 'POST /api/v1/auth/accept-invite', 'POST /api/v1/auth/token']);

interface SeenRoute { key: string; method: string; url: string; access: string | undefined }

async function tenantRoutes(): Promise<SeenRoute[]> {
  const seen: SeenRoute[] = [];
  const app = await buildApp({
    pool: env.pool, config: env.config, log: env.log, metrics: createAppMetrics(env.pool), jobEvents: null, modules: env.modules,
    onRoute: (r) => {
      for (const method of [r.method].flat()) {
        if (method === 'HEAD' || !r.url.startsWith('/api/v1/') || r.url.startsWith('/api/v1/admin/')) continue;
        seen.push({ key: `${method} ${r.url}`, method, url: r.url, access: accessOf(r) });
      }
    },
  });
  await app.close();
  return seen;
}

function expectedAccess(r: SeenRoute): string {
  if (PUBLIC.has(r.key)) return 'public';
  if (r.method === 'GET') return ADMIN_READS.has(r.key) ? 'admin' : 'agent';
  return AGENT_MAY_CHANGE.has(r.key) ? 'agent' : 'admin';
}

describe('roles', () => {
  test('every /api/v1 route declares the role API.md gives it', async () => {
    const routes = await tenantRoutes();
    assert.ok(routes.length >= 45, `only ${routes.length} routes`);
    const wrong = routes.filter((r) => r.access !== expectedAccess(r)).map((r) => `${r.key}: declares ${String(r.access)}, expected ${expectedAccess(r)}`);
    assert.deepEqual(wrong, []);
  });

  test('a route that declares no role stops the start', async () => {
    const careless: FastifyPluginAsyncZod = async (app) => {
      app.get('/careless', { schema: {} }, async () => ({}));
    };
    await assert.rejects(
      buildApp({ pool: env.pool, config: env.config, log: env.log, metrics: createAppMetrics(env.pool), jobEvents: null, modules: [...env.modules, { name: 'careless', routes: careless }] }),
      /route GET \/api\/v1\/careless declares no role/,
    );
  });

  test('an agent is refused every admin route with 403 naming the role, before its body is read, and nothing changes', async () => {
    const agent = await tokenWithRole(env, owner.businessId, 'agent@roles.test', 'agent');
    const fingerprint = async () => (await env.pool.query(
      `SELECT (SELECT count(*) FROM jobs WHERE business_id = $1) AS jobs, (SELECT count(*) FROM users WHERE business_id = $1) AS users,
              (SELECT count(*) FROM api_tokens WHERE business_id = $1) AS tokens, (SELECT count(*) FROM audit_log WHERE business_id = $1) AS audit,
              (SELECT count(*) FROM leads WHERE business_id = $1) AS leads, (SELECT count(*) FROM receipts WHERE business_id = $1) AS receipts,
              (SELECT count(*) FROM dialer_settings WHERE business_id = $1) AS settings`,
      [owner.businessId],
    )).rows[0] as Record<string, string>;
    const before = await fingerprint();
    const adminRoutes = (await tenantRoutes()).filter((r) => r.access === 'admin' || r.access === 'owner');
    assert.ok(adminRoutes.length >= 20, `only ${adminRoutes.length} admin routes`);
    for (const r of adminRoutes) {
      const path = r.url.replace(/^\/api\/v1/, '').replace(/:[a-z_]+/g, '1');
      // A body that would be valid elsewhere is not needed: the role is checked before the body.
      const res = await http<{ error: { code: string; details: { required_role: string } } }>(env, r.method, path, { bearer: agent.token, ...(r.method === 'GET' || r.method === 'DELETE' ? {} : { body: {} }) });
      assert.equal(res.status, 403, `${r.key}: ${res.status} ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'forbidden');
      assert.equal(res.body.error.details.required_role, r.access);
    }
    assert.deepEqual(await fingerprint(), before);

    // What agents may do, they can.
    const lead = await http<{ id: number }>(env, 'POST', '/leads', { bearer: agent.token, body: { phone: '+12125550100', name: 'By an agent' } });
    assert.equal(lead.status, 201);
    assert.equal((await http(env, 'POST', `/leads/${lead.body.id}/notes`, { bearer: agent.token, body: { text: 'hello' } })).status, 201);
    assert.equal((await http(env, 'GET', '/jobs', { bearer: agent.token })).status, 200);
  });

  test('a token never acts above the role it was made with, nor above its user\'s role today', async () => {
    const admin = await tokenWithRole(env, owner.businessId, 'admin@roles.test', 'admin');
    const above = await http<{ error: { code: string } }>(env, 'POST', '/tokens', { bearer: admin.token, body: { name: 'too strong', role: 'owner' } });
    assert.equal(above.status, 403);
    const readOnly = await http<{ token: string; role: string }>(env, 'POST', '/tokens', { bearer: owner.token, body: { name: 'reporting', role: 'agent' } });
    assert.equal(readOnly.status, 201);
    assert.equal(readOnly.body.role, 'agent');
    assert.equal((await http(env, 'POST', '/leads/bulk-delete', { bearer: readOnly.body.token, body: { lead_ids: [1] } })).status, 403);

    const adminScript = await http<{ token: string; role: string }>(env, 'POST', '/tokens', { bearer: admin.token, body: { name: 'nightly' } });
    assert.equal(adminScript.body.role, 'admin', 'defaults to the creator\'s role');
    assert.equal((await http(env, 'GET', '/audit', { bearer: adminScript.body.token })).status, 200);
    assert.equal((await http(env, 'PATCH', `/users/${admin.userId}`, { bearer: owner.token, body: { role: 'agent' } })).status, 200);
    const demoted = await http<{ error: { code: string } }>(env, 'GET', '/audit', { bearer: adminScript.body.token });
    assert.equal(demoted.status, 403, 'the admin token of a user who is now an agent acts as an agent');
    const me = await http<{ user: { role: string } }>(env, 'GET', '/me', { bearer: adminScript.body.token });
    assert.equal(me.body.user.role, 'agent');
  });
});
