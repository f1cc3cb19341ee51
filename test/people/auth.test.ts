import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTenant, startTestEnv, type Tenant, type TestEnv } from '../helpers/harness.js';
import { addUser, http, signIn } from './helpers.js';

let env: TestEnv;
let owner: Tenant;

before(async () => {
  env = await startTestEnv({ listen: true, worker: false });
  owner = await createTenant(env);
});
after(() => env.close());

describe('sign-in', () => {
  test('invite, set a password once, sign in: an httpOnly session cookie, a readable CSRF cookie, /me; the stored hash is argon2id', async () => {
    const invited = await http<{ user: { id: number; status: string }; invite_token: string }>(env, 'POST', '/users', { bearer: owner.token, body: { email: 'Dana@Example.test', role: 'agent' } });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    assert.equal(invited.body.user.status, 'invited');
    const short = await http<{ error: { code: string; details: { issues: { path: string }[] } } }>(env, 'POST', '/auth/accept-invite', { body: { invite_token: invited.body.invite_token, password: 'short' } });
    assert.equal(short.status, 400);
    assert.deepEqual(short.body.error.details.issues.map((i) => i.path), ['body.password']);
    const ok = await http<{ user: { status: string } }>(env, 'POST', '/auth/accept-invite', { body: { invite_token: invited.body.invite_token, password: 'a long enough secret' } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.user.status, 'active');
    const again = await http<{ error: { code: string } }>(env, 'POST', '/auth/accept-invite', { body: { invite_token: invited.body.invite_token, password: 'another long secret' } });
    assert.equal(again.status, 404);
    assert.equal(again.body.error.code, 'invalid_invite');

    const { rows } = await env.pool.query<{ password_hash: string }>(`SELECT password_hash FROM users WHERE id = $1`, [invited.body.user.id]);
    assert.match(rows[0]?.password_hash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);

    // Email is matched without regard to case.
    const login = await http<{ user: { role: string }; business: { id: number } }>(env, 'POST', '/auth/login', { body: { email: 'dana@example.TEST', password: 'a long enough secret' } });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.deepEqual([login.body.user.role, login.body.business.id], ['agent', owner.businessId]);
    const session = login.cookies.get('bh_session');
    const csrf = login.cookies.get('bh_csrf');
    assert.ok(session && csrf);
    assert.match(session.attrs, /HttpOnly/i);
    assert.match(session.attrs, /SameSite=Lax/i);
    assert.match(session.attrs, /Path=\//);
    assert.doesNotMatch(session.attrs, /Secure/i, 'http PUBLIC_BASE_URL: no Secure flag');
    assert.doesNotMatch(csrf.attrs, /HttpOnly/i);
    const me = await http<{ user: { email: string; role: string } }>(env, 'GET', '/me', { headers: { cookie: `bh_session=${session.value}` } });
    assert.equal(me.status, 200);
    assert.deepEqual(me.body.user, { id: invited.body.user.id, email: 'Dana@Example.test', role: 'agent' });
    // The session id is stored hashed, never as sent.
    const stored = await env.pool.query(`SELECT 1 FROM sessions WHERE id_hash = sha256(convert_to($1, 'UTF8'))`, [session.value]);
    assert.equal(stored.rowCount, 1);
    const plain = await env.pool.query(`SELECT 1 FROM sessions WHERE encode(id_hash, 'escape') = $1`, [session.value]);
    assert.equal(plain.rowCount, 0);
  });

  test('an expired invite is refused; an email that signs in elsewhere cannot be invited again', async () => {
    const invited = await http<{ user: { id: number }; invite_token: string }>(env, 'POST', '/users', { bearer: owner.token, body: { email: 'late@example.test', role: 'agent' } });
    await env.pool.query(`UPDATE users SET invite_expires_at = now() - interval '1 second' WHERE id = $1`, [invited.body.user.id]);
    const late = await http<{ error: { code: string } }>(env, 'POST', '/auth/accept-invite', { body: { invite_token: invited.body.invite_token, password: 'a long enough secret' } });
    assert.equal(late.status, 404);
    assert.equal(late.body.error.code, 'invalid_invite');

    const other = await createTenant(env);
    const taken = await http<{ error: { code: string } }>(env, 'POST', '/users', { bearer: other.token, body: { email: 'DANA@example.test', role: 'agent' } });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error.code, 'email_taken');
  });

  test('a wrong password and an unknown email get the same 401; parallel guesses stop at five, then 429 with Retry-After even for the right password', async () => {
    await addUser(env, owner, 'guessed@example.test', 'agent', 'the right password');
    const wrong = await http(env, 'POST', '/auth/login', { body: { email: 'guessed@example.test', password: 'not the password' } });
    const unknown = await http(env, 'POST', '/auth/login', { body: { email: 'nobody@example.test', password: 'not the password' } });
    assert.equal(wrong.status, 401);
    assert.deepEqual(unknown.body, wrong.body);
    assert.deepEqual(wrong.body, { error: { code: 'invalid_credentials', message: 'The email or the password is wrong.' } });

    // Eight at once: the per-email lock lets exactly four more failures in (five in all), then refuses.
    const guesses = await Promise.all(Array.from({ length: 8 }, (_, i) => http(env, 'POST', '/auth/login', { body: { email: 'guessed@example.test', password: `guess ${i}` } })));
    const statuses = guesses.map((g) => g.status).sort();
    assert.deepEqual(statuses, [401, 401, 401, 401, 429, 429, 429, 429]);
    const refused = guesses.find((g) => g.status === 429);
    const retry = Number(refused?.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 900, `Retry-After ${retry}`);
    assert.equal((refused?.body as { error: { code: string } }).error.code, 'too_many_attempts');

    const right = await http(env, 'POST', '/auth/login', { body: { email: 'guessed@example.test', password: 'the right password' } });
    assert.equal(right.status, 429, 'the right password waits out the window too');
    await env.pool.query(`UPDATE login_failures SET at = at - interval '16 minutes' WHERE email = 'guessed@example.test'`);
    const later = await http(env, 'POST', '/auth/login', { body: { email: 'guessed@example.test', password: 'the right password' } });
    assert.equal(later.status, 200);

    const audit = await env.pool.query<{ action: string; n: number }>(
      `SELECT action, count(*)::int AS n FROM audit_log WHERE business_id = $1 AND user_email = 'guessed@example.test' AND action LIKE 'auth.%' GROUP BY action ORDER BY action`,
      [owner.businessId],
    );
    assert.deepEqual(audit.rows, [{ action: 'auth.login', n: 1 }, { action: 'auth.login_failed', n: 5 }]);
  });

  test('CSRF: a signed-in change needs X-CSRF-Token equal to the bh_csrf cookie and bound to the session; reads and bearer calls need none', async () => {
    await addUser(env, owner, 'csrf-admin@example.test', 'admin');
    await addUser(env, owner, 'csrf-other@example.test', 'admin');
    const s = await signIn(env, 'csrf-admin@example.test');
    const other = await signIn(env, 'csrf-other@example.test');
    const tokens = async () => (await env.pool.query(`SELECT count(*)::int AS n FROM api_tokens WHERE business_id = $1`, [owner.businessId])).rows[0] as { n: number };
    const before = await tokens();

    const none = await http<{ error: { code: string } }>(env, 'POST', '/tokens', { jar: s.jar, body: { name: 'x' } });
    assert.equal(none.status, 403);
    assert.equal(none.body.error.code, 'csrf');
    const wrong = await http(env, 'POST', '/tokens', { jar: s.jar, csrf: 'not-the-token', body: { name: 'x' } });
    assert.equal(wrong.status, 403);
    // Another session's pair (cookie and header agree with each other) does not pass for this session.
    const swapped = new Map(s.jar);
    swapped.set('bh_csrf', other.csrf);
    const foreign = await http(env, 'POST', '/tokens', { jar: swapped, csrf: other.csrf, body: { name: 'x' } });
    assert.equal(foreign.status, 403);
    assert.deepEqual(await tokens(), before, 'refused requests created nothing');

    assert.equal((await http(env, 'GET', '/tokens', { jar: s.jar })).status, 200);
    const good = await http(env, 'POST', '/tokens', { jar: s.jar, csrf: s.csrf, body: { name: 'from the dashboard' } });
    assert.equal(good.status, 201);
    assert.equal((await http(env, 'POST', '/tokens', { bearer: owner.token, body: { name: 'script' } })).status, 201);
  });

  test('email and password for a token of one\'s own (the CLI\'s login): the user\'s role, listed, revocable, throttled like a sign-in', async () => {
    await addUser(env, owner, 'terminal@example.test', 'agent', 'typed in a terminal');
    const res = await http<{ token: string; token_id: number; user: { role: string } }>(env, 'POST', '/auth/token', { body: { email: 'terminal@example.test', password: 'typed in a terminal', name: 'CLI on laptop' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.user.role, 'agent');
    assert.equal(res.cookies.size, 0, 'no session cookie for a token');
    assert.equal((await http(env, 'GET', '/leads', { bearer: res.body.token })).status, 200);
    assert.equal((await http(env, 'POST', '/leads/bulk-delete', { bearer: res.body.token, body: { lead_ids: [1] } })).status, 403);
    const listed = await http<{ items: { id: number; name: string; role: string }[] }>(env, 'GET', '/tokens', { bearer: owner.token });
    assert.deepEqual(listed.body.items.find((t) => t.id === res.body.token_id), { ...listed.body.items.find((t) => t.id === res.body.token_id), name: 'CLI on laptop', role: 'agent' });
    assert.equal((await http(env, 'DELETE', `/tokens/${res.body.token_id}`, { bearer: owner.token })).status, 204);
    assert.equal((await http(env, 'GET', '/leads', { bearer: res.body.token })).status, 401);
    const wrong = await http<{ error: { code: string } }>(env, 'POST', '/auth/token', { body: { email: 'terminal@example.test', password: 'nope', name: 'x' } });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.code, 'invalid_credentials');
  });

  test('logout ends the session; an idle session ends; disabling a user ends its sessions and its tokens at once', async () => {
    await addUser(env, owner, 'leaving@example.test', 'admin');
    const s = await signIn(env, 'leaving@example.test');
    assert.equal((await http(env, 'GET', '/me', { jar: s.jar })).status, 200);
    const cookieBefore = new Map(s.jar);
    const out = await http(env, 'POST', '/auth/logout', { jar: s.jar, csrf: s.csrf });
    assert.equal(out.status, 204);
    assert.equal(s.jar.has('bh_session'), false, 'the cookie is cleared');
    assert.equal((await http(env, 'GET', '/me', { jar: cookieBefore })).status, 401, 'the old cookie is dead server-side');

    const idle = await signIn(env, 'leaving@example.test');
    await env.pool.query(`UPDATE sessions SET last_seen_at = now() - make_interval(mins => $2 + 1) WHERE user_id = $1`, [idle.userId, env.config.people.sessionIdleMs / 60_000]);
    const gone = await http<{ error: { code: string } }>(env, 'GET', '/me', { jar: idle.jar });
    assert.equal(gone.status, 401);
    assert.equal((await env.pool.query(`SELECT 1 FROM sessions WHERE user_id = $1`, [idle.userId])).rowCount, 0);

    const live = await signIn(env, 'leaving@example.test');
    const token = await http<{ token: string }>(env, 'POST', '/tokens', { jar: live.jar, csrf: live.csrf, body: { name: 'mine' } });
    assert.equal((await http(env, 'GET', '/me', { bearer: token.body.token })).status, 200);
    const disabled = await http(env, 'PATCH', `/users/${live.userId}`, { bearer: owner.token, body: { disabled: true } });
    assert.equal(disabled.status, 200);
    assert.equal((await http(env, 'GET', '/me', { jar: live.jar })).status, 401);
    assert.equal((await http(env, 'GET', '/me', { bearer: token.body.token })).status, 401);
    const relogin = await http(env, 'POST', '/auth/login', { body: { email: 'leaving@example.test', password: 'correct horse battery' } });
    assert.equal(relogin.status, 401, 'a disabled user cannot sign in');
  });
});
