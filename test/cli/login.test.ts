/**
 * `bulkhead login`, `logout`, `whoami`, `tokens` and `trash restore` as a user runs them: real
 * child processes against this file's API on a real port, each test with its own config
 * directory (and HOME), so nothing reads or writes the real ~/.config.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, startTestEnv, waitForJob, type Tenant, type TestEnv } from '../helpers/harness.js';
import { nodeEntry } from '../helpers/node-entry.js';
import { ROOT } from '../helpers/processes.js';
import { bulkDelete, leadSeeder } from '../leads/helpers.js';

let env: TestEnv;
let tmp: string;

before(async () => {
  env = await startTestEnv({ listen: true, env: { JOB_BATCH_SIZE: '20' } });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bulkhead-login-'));
});
after(async () => {
  await env.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `bulkhead ARGS` with only the Bulkhead variables given here; `stdin` is piped in when given
 * (else stdin is empty). HOME points into the test's directory too, so a missing variable
 * can never reach the real ~/.config.
 */
function run(args: string[], vars: Record<string, string | undefined>, stdin?: string): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['BULKHEAD_URL', 'BULKHEAD_TOKEN', 'BULKHEAD_PASSWORD', 'BULKHEAD_CONFIG_DIR', 'XDG_CONFIG_HOME', 'ADMIN_TOKEN']) delete base[k];
  const childEnv: NodeJS.ProcessEnv = { ...base, HOME: path.join(tmp, 'home'), BULKHEAD_URL: env.baseUrl, ...vars };
  // undefined in vars: leave that variable out altogether.
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k];
  const proc = spawn(process.execPath, [...nodeEntry(path.join(ROOT, 'src/cli/main.ts')), ...args], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  proc.stdin.end(stdin ?? '');
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
}

let dirs = 0;
/** A fresh, empty config directory for one test (BULKHEAD_CONFIG_DIR; created by login). */
const configDir = (): string => path.join(tmp, `config-${++dirs}`);

interface Person {
  email: string;
  password: string;
  businessId: number;
  /** The business's first token (from the admin API), to check things beside the CLI. */
  headers: Record<string, string>;
}

async function api<T>(method: 'GET' | 'POST' | 'DELETE', url: string, headers: Record<string, string>, payload?: Record<string, unknown>): Promise<{ status: number; body: T }> {
  const res = await env.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: (res.body ? res.json() : null) as T };
}

/** A business whose owner has set a password (admin API, then the invitation). */
async function owner(): Promise<Person> {
  const email = `owner-${Math.random().toString(36).slice(2, 10)}@example.com`;
  const made = await api<{ business: { id: number }; token: string; invite_token: string }>(
    'POST', '/admin/businesses', { authorization: `Bearer ${ADMIN_TOKEN}` }, { name: `Biz ${email}`, email },
  );
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const password = 'correct horse battery';
  const accepted = await api('POST', '/auth/accept-invite', {}, { invite_token: made.body.invite_token, password });
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  return { email, password, businessId: made.body.business.id, headers: { authorization: `Bearer ${made.body.token}` } };
}

const tenantOf = (p: Person): Tenant => ({ businessId: p.businessId, userId: 0, token: '', headers: p.headers });

/** An agent of `boss`'s business with a password. */
async function agent(boss: Person): Promise<Person> {
  const email = `agent-${Math.random().toString(36).slice(2, 10)}@example.com`;
  const invited = await api<{ invite_token: string }>('POST', '/users', boss.headers, { email, role: 'agent' });
  assert.equal(invited.status, 201, JSON.stringify(invited.body));
  const password = 'agent password 123';
  const accepted = await api('POST', '/auth/accept-invite', {}, { invite_token: invited.body.invite_token, password });
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  return { ...boss, email, password };
}

interface Stored {
  url: string;
  token: string;
  token_id: number;
  email: string;
  business: { id: number; name: string };
}
const readStored = (dir: string): Stored => JSON.parse(fs.readFileSync(path.join(dir, 'credentials.json'), 'utf8')) as Stored;
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function login(p: Person, dir: string): Promise<Stored> {
  const r = await run(['login', '--email', p.email], { BULKHEAD_CONFIG_DIR: dir }, `${p.password}\n`);
  assert.equal(r.code, 0, r.stderr);
  return readStored(dir);
}

const seed = leadSeeder();

describe('bulkhead login and the stored token', () => {
  test('login with the right password (on stdin) stores a 0600 file whose token works, is listed, and serves jobs list', async () => {
    const p = await owner();
    const xdg = path.join(tmp, 'xdg');
    const r = await run(['login', '--email', p.email], { XDG_CONFIG_HOME: xdg }, `${p.password}\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Logged in to ${env.baseUrl} as ${p.email} \\(owner\\) of business "Biz ${p.email}" \\(id ${p.businessId}\\)\\.$`, 'm'));

    const dir = path.join(xdg, 'bulkhead');
    const file = path.join(dir, 'credentials.json');
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.deepEqual(fs.readdirSync(dir), ['credentials.json'], 'no temporary file left behind');
    const stored = readStored(dir);
    assert.equal(stored.url, env.baseUrl);
    assert.equal(stored.email, p.email);
    assert.equal(stored.business.id, p.businessId);
    assert.match(r.stdout, new RegExp(`Token ${stored.token_id} \\("CLI on ${os.hostname()}"\\) saved in ${file}`));

    const me = await api<{ user: { email: string; role: string } }>('GET', '/me', bearer(stored.token));
    assert.equal(me.status, 200);
    assert.deepEqual([me.body.user.email, me.body.user.role], [p.email, 'owner']);
    const listed = await api<{ items: { id: number; name: string; role: string }[] }>('GET', '/tokens', p.headers);
    const mine = listed.body.items.find((t) => t.id === stored.token_id);
    assert.deepEqual([mine?.name, mine?.role], [`CLI on ${os.hostname()}`, 'owner']);

    // Neither --token nor BULKHEAD_TOKEN, nor even BULKHEAD_URL: both come from the file.
    const job = await bulkDelete(env, tenantOf(p), await seed(env, tenantOf(p), 2));
    const jobs = await run(['jobs', 'list', '--json'], { XDG_CONFIG_HOME: xdg, BULKHEAD_URL: undefined });
    assert.equal(jobs.code, 0, jobs.stderr);
    assert.deepEqual((JSON.parse(jobs.stdout) as { id: number }[]).map((j) => j.id), [job]);
    const who = await run(['whoami'], { XDG_CONFIG_HOME: xdg });
    assert.equal(who.code, 0, who.stderr);
    assert.match(who.stdout, new RegExp(`^${p.email} \\(owner\\) of business .* token ${stored.token_id} saved by \`bulkhead login\``));
  });

  test('BULKHEAD_PASSWORD works too; logging in again replaces the file and revokes the replaced token', async () => {
    const p = await owner();
    const dir = configDir();
    const first = await run(['login', '--email', p.email], { BULKHEAD_CONFIG_DIR: dir, BULKHEAD_PASSWORD: p.password });
    assert.equal(first.code, 0, first.stderr);
    const old = readStored(dir);
    const again = await login(p, dir);
    assert.notEqual(again.token_id, old.token_id);
    assert.equal((await api('GET', '/me', bearer(old.token))).status, 401);
    assert.equal((await api('GET', '/me', bearer(again.token))).status, 200);
  });

  test('a wrong password exits 5 with the server\'s message and stores nothing', async () => {
    const p = await owner();
    const dir = configDir();
    const r = await run(['login', '--email', p.email], { BULKHEAD_CONFIG_DIR: dir }, 'not the password\n');
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /^error \(401 invalid_credentials\): .+/);
    assert.doesNotMatch(r.stderr, /--token/);
    assert.equal(fs.existsSync(dir), false);
    const listed = await api<{ items: unknown[] }>('GET', '/tokens', p.headers);
    assert.equal(listed.body.items.length, 1, 'only the business\'s first token');

    const none = await run(['login', '--email', p.email], { BULKHEAD_CONFIG_DIR: dir });
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /No password: type it at the prompt, pipe it on stdin or set BULKHEAD_PASSWORD/);
  });

  test('tokens create, list and revoke: the secret is shown once and a revoked token gets 401', async () => {
    const p = await owner();
    const dir = configDir();
    const stored = await login(p, dir);
    const vars = { BULKHEAD_CONFIG_DIR: dir };

    const created = await run(['tokens', 'create', 'nightly import', '--role', 'agent', '--json'], vars);
    assert.equal(created.code, 0, created.stderr);
    const token = JSON.parse(created.stdout) as { id: number; name: string; role: string; token: string };
    assert.deepEqual([token.name, token.role], ['nightly import', 'agent']);
    assert.equal((await api('GET', '/me', bearer(token.token))).status, 200);

    const plain = await run(['tokens', 'create', 'ci'], vars);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /^token \d+ created: "ci" \(owner\)\n {2}secret {2}\S+$/m);
    assert.match(plain.stderr, /will not be shown again/);

    const table = await run(['tokens', 'list'], vars);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+NAME\s+ROLE\s+USER\s+CREATED \(UTC\)\s+LAST USED \(UTC\)$/m);
    assert.match(table.stdout, new RegExp(`^${token.id}\\s+nightly import\\s+agent\\s+${p.email}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d$`, 'm'));
    assert.match(table.stdout, new RegExp(`^${stored.token_id}\\*\\s+CLI on `, 'm'), 'the login token is marked');
    const json = await run(['tokens', 'list', '--json'], vars);
    const ids = (JSON.parse(json.stdout) as { id: number }[]).map((t) => t.id);
    assert.ok(ids.includes(token.id) && ids.includes(stored.token_id), json.stdout);
    assert.ok(!json.stdout.includes(token.token), 'no secret in the list');

    const revoked = await run(['tokens', 'revoke', String(token.id)], vars);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout.trim(), `token ${token.id} revoked`);
    assert.equal((await api('GET', '/me', bearer(token.token))).status, 401);
    const withRevoked = await run(['jobs', 'list'], { BULKHEAD_TOKEN: token.token, BULKHEAD_CONFIG_DIR: dir });
    assert.equal(withRevoked.code, 5, withRevoked.stderr);
    assert.match(withRevoked.stderr, /401 unauthorized/);

    const again = await run(['tokens', 'revoke', String(token.id)], vars);
    assert.equal(again.code, 6, again.stderr);
    assert.match(again.stderr, /404 not_found/);

    // Revoking the login's own token also forgets it here.
    const own = await run(['tokens', 'revoke', String(stored.token_id)], vars);
    assert.equal(own.code, 0, own.stderr);
    assert.match(own.stdout, /this machine's login, now removed/);
    assert.equal(fs.existsSync(path.join(dir, 'credentials.json')), false);
  });

  test('an agent: tokens list is a 403 (exit 5); logout revokes its own token', async () => {
    const boss = await owner();
    const a = await agent(boss);
    const dir = configDir();
    const stored = await login(a, dir);
    const list = await run(['tokens', 'list'], { BULKHEAD_CONFIG_DIR: dir });
    assert.equal(list.code, 5, list.stderr);
    assert.match(list.stderr, /403 forbidden/);

    const out = await run(['logout'], { BULKHEAD_CONFIG_DIR: dir });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`token ${stored.token_id} revoked`));
    assert.equal(fs.existsSync(path.join(dir, 'credentials.json')), false);
    assert.equal((await api('GET', '/me', bearer(stored.token))).status, 401);
  });

  test('logout revokes the token and removes the file; then commands ask for a login', async () => {
    const p = await owner();
    const dir = configDir();
    const stored = await login(p, dir);
    const out = await run(['logout'], { BULKHEAD_CONFIG_DIR: dir });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, new RegExp(`^Logged out ${p.email}: token ${stored.token_id} revoked on ${env.baseUrl}\\. Removed `));
    assert.equal((await api('GET', '/me', bearer(stored.token))).status, 401);
    const jobs = await run(['jobs', 'list'], { BULKHEAD_CONFIG_DIR: dir });
    assert.equal(jobs.code, 2, jobs.stderr);
    assert.match(jobs.stderr, /No token: .*bulkhead login/);
    const twice = await run(['logout'], { BULKHEAD_CONFIG_DIR: dir });
    assert.equal(twice.code, 0, twice.stderr);
    assert.match(twice.stdout, /^Not logged in/);
  });

  test('a file others can read is refused (logout still revokes it); the stored token goes to no other URL', async () => {
    const p = await owner();
    const dir = configDir();
    const stored = await login(p, dir);
    const file = path.join(dir, 'credentials.json');

    const other = await run(['jobs', 'list', '--url', 'http://127.0.0.1:1'], { BULKHEAD_CONFIG_DIR: dir });
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /No token for http:\/\/127\.0\.0\.1:1: the token `bulkhead login` saved is for/);
    const sameWithSlash = await run(['jobs', 'list', '--url', `${env.baseUrl}/`], { BULKHEAD_CONFIG_DIR: dir });
    assert.equal(sameWithSlash.code, 0, sameWithSlash.stderr);

    fs.chmodSync(file, 0o644);
    const refused = await run(['jobs', 'list'], { BULKHEAD_CONFIG_DIR: dir });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /credentials\.json is readable by others \(mode 0644\); refusing to use the token in it\./);
    assert.match(refused.stderr, /chmod 600 /);
    const out = await run(['logout'], { BULKHEAD_CONFIG_DIR: dir });
    assert.equal(out.code, 0, out.stderr);
    assert.equal((await api('GET', '/me', bearer(stored.token))).status, 401);
    assert.equal(fs.existsSync(file), false);
  });

  test('trash restore JOB_ID puts back the leads of a bulk delete and follows the restore job', async (t) => {
    if (!env.app.hasRoute({ method: 'POST', url: '/api/v1/trash/restore' })) {
      t.skip('POST /api/v1/trash/restore is not on this branch yet');
      return;
    }
    const p = await owner();
    const ids = await seed(env, tenantOf(p), 30);
    const deleted = await bulkDelete(env, tenantOf(p), ids);
    await waitForJob(env, deleted, 'completed');
    const count = async () => (await env.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM leads WHERE business_id = $1', [p.businessId])).rows[0]?.n;
    assert.equal(await count(), 0);

    const dir = configDir();
    await login(p, dir);
    const r = await run(['trash', 'restore', String(deleted)], { BULKHEAD_CONFIG_DIR: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /100% {2}30\/30 .* completed/);
    assert.match(r.stdout, /^job \d+ restore_leads completed: 30\/30 processed, 30 succeeded, 0 failed/);
    const back = await env.pool.query<{ id: number }>('SELECT id FROM leads WHERE business_id = $1 ORDER BY id', [p.businessId]);
    assert.deepEqual(back.rows.map((r) => Number(r.id)), ids, 'the same leads, with their ids');

    const missing = await run(['trash', 'restore', '999999', '--no-watch'], { BULKHEAD_CONFIG_DIR: dir });
    assert.equal(missing.code, 6, missing.stderr);
  });

  test('--help on every new command shows examples and exits 0', async () => {
    const commands = [['login'], ['logout'], ['whoami'], ['tokens'], ['tokens', 'list'], ['tokens', 'create'], ['tokens', 'revoke'], ['trash'], ['trash', 'restore'], ['receipts'], ['receipts', 'sync']];
    const results = await Promise.all(commands.map((c) => run([...c, '--help'], {})));
    results.forEach((r, i) => {
      const name = commands[i]?.join(' ') ?? '';
      assert.equal(r.code, 0, name);
      assert.match(r.stdout, /Examples?:/, name);
    });
  });
});
