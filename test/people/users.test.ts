import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTenant, startTestEnv, type Tenant, type TestEnv } from '../helpers/harness.js';
import { http, tokenWithRole } from './helpers.js';

let env: TestEnv;
let owner: Tenant;

before(async () => {
  env = await startTestEnv({ listen: true, worker: false });
  owner = await createTenant(env);
});
after(() => env.close());

const enabledOwners = async (businessId: number): Promise<number> =>
  ((await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM users WHERE business_id = $1 AND role = 'owner' AND NOT disabled`, [businessId])).rows[0]?.n ?? -1);

describe('users', () => {
  test('the last owner can be neither demoted nor disabled; admins neither make nor touch owners', async () => {
    const alone = await createTenant(env);
    for (const patch of [{ role: 'admin' }, { disabled: true }]) {
      const res = await http<{ error: { code: string } }>(env, 'PATCH', `/users/${alone.userId}`, { bearer: alone.token, body: patch });
      assert.equal(res.status, 409, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'last_owner');
    }
    assert.equal(await enabledOwners(alone.businessId), 1);

    const admin = await tokenWithRole(env, alone.businessId, 'admin@users.test', 'admin');
    const invite = await http<{ error: { details: { required_role: string } } }>(env, 'POST', '/users', { bearer: admin.token, body: { email: 'boss@users.test', role: 'owner' } });
    assert.equal(invite.status, 403);
    assert.equal(invite.body.error.details.required_role, 'owner');
    assert.equal((await http(env, 'PATCH', `/users/${alone.userId}`, { bearer: admin.token, body: { disabled: true } })).status, 403);
    assert.equal((await http(env, 'PATCH', `/users/${admin.userId}`, { bearer: admin.token, body: { role: 'owner' } })).status, 403);
    const agent = await http<{ user: { role: string } }>(env, 'POST', '/users', { bearer: admin.token, body: { email: 'agent@users.test', role: 'agent' } });
    assert.equal(agent.status, 201);
    const twice = await Promise.all(['Twice@users.test', 'twice@USERS.test'].map((email) => http<{ error: { code: string } }>(env, 'POST', '/users', { bearer: admin.token, body: { email, role: 'agent' } })));
    assert.deepEqual(twice.map((r) => r.status).sort(), [201, 409], 'one address whatever its case, even at once');
    assert.equal(twice.find((r) => r.status === 409)?.body.error.code, 'user_exists');
  });

  test('two owners demoting each other at the same moment: one wins, the business keeps an owner (10 rounds)', async () => {
    for (let round = 0; round < 10; round++) {
      const biz = await createTenant(env);
      const second = await tokenWithRole(env, biz.businessId, `second-${round}@users.test`, 'owner');
      const [a, b] = await Promise.all([
        http(env, 'PATCH', `/users/${second.userId}`, { bearer: biz.token, body: round % 2 ? { disabled: true } : { role: 'admin' } }),
        http(env, 'PATCH', `/users/${biz.userId}`, { bearer: second.token, body: { role: 'agent' } }),
      ]);
      const statuses = [a.status, b.status].sort();
      assert.equal(statuses.filter((s) => s === 200).length, 1, `round ${round}: ${a.status} ${JSON.stringify(a.body)} / ${b.status} ${JSON.stringify(b.body)}`);
      // The loser either saw itself demoted first (403) or found no owner left (409).
      assert.ok([403, 409].includes(statuses[1] ?? 0), `round ${round}: ${statuses.join(',')}`);
      assert.equal(await enabledOwners(biz.businessId), 1, `round ${round}`);
    }
  });

  test('tokens: listed without secrets, revoked at once, never above the revoker', async () => {
    const made = await http<{ id: number; token: string; name: string }>(env, 'POST', '/tokens', { bearer: owner.token, body: { name: 'CRM sync' } });
    assert.equal(made.status, 201);
    assert.match(made.body.token, /^bh_[A-Za-z0-9_-]{24}$/);
    const list = await http<{ items: Record<string, unknown>[] }>(env, 'GET', '/tokens', { bearer: owner.token });
    const row = list.body.items.find((t) => t.id === made.body.id);
    assert.deepEqual(Object.keys(row ?? {}).sort(), ['created_at', 'id', 'last_used_at', 'name', 'role', 'user_email', 'user_id']);
    assert.ok(!JSON.stringify(list.body).includes(made.body.token.slice(3)), 'no secret in the list');

    assert.equal((await http(env, 'GET', '/leads', { bearer: made.body.token })).status, 200);
    const used = await http<{ items: { id: number; last_used_at: string | null }[] }>(env, 'GET', '/tokens', { bearer: owner.token });
    assert.ok(used.body.items.find((t) => t.id === made.body.id)?.last_used_at, 'last_used_at is kept');

    const admin = await tokenWithRole(env, owner.businessId, 'revoker@users.test', 'admin');
    assert.equal((await http(env, 'DELETE', `/tokens/${made.body.id}`, { bearer: admin.token })).status, 403, 'an admin cannot revoke an owner token');
    assert.equal((await http(env, 'DELETE', `/tokens/${made.body.id}`, { bearer: owner.token })).status, 204);
    const after = await http<{ error: { code: string } }>(env, 'GET', '/leads', { bearer: made.body.token });
    assert.equal(after.status, 401);
    assert.equal((await http(env, 'DELETE', `/tokens/${made.body.id}`, { bearer: owner.token })).status, 404);

    // An agent revokes its own token (bulkhead logout), not anyone else's.
    const agent = await tokenWithRole(env, owner.businessId, 'self@users.test', 'agent');
    const agentTokens = await http<{ items: { id: number; user_id: number }[] }>(env, 'GET', '/tokens?limit=500', { bearer: owner.token });
    const own = agentTokens.body.items.find((t) => t.user_id === agent.userId);
    const ownersToken = agentTokens.body.items.find((t) => t.user_id === owner.userId);
    const refused = await http<{ error: { code: string } }>(env, 'DELETE', `/tokens/${ownersToken?.id ?? 0}`, { bearer: agent.token });
    assert.equal(refused.status, 403);
    assert.equal((await http(env, 'DELETE', `/tokens/${own?.id ?? 0}`, { bearer: agent.token })).status, 204);
    assert.equal((await http(env, 'GET', '/me', { bearer: agent.token })).status, 401);

    const other = await createTenant(env);
    const theirs = await http<{ id: number }>(env, 'POST', '/tokens', { bearer: other.token, body: { name: 'theirs' } });
    assert.equal((await http(env, 'DELETE', `/tokens/${theirs.body.id}`, { bearer: owner.token })).status, 404, 'another business\'s token is not found');
    assert.equal((await http(env, 'GET', '/me', { bearer: other.token })).status, 200);
  });
});
