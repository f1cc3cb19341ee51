/**
 * `bulkhead receipts sync` as a user runs it: a real child process against this file's API on a
 * real port (its in-process worker runs the sync against the in-process Google simulator). The
 * business is connected through the simulator's consent redirect, as in
 * test/receipts/gmail-sync.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTenant, startTestEnv, type Tenant, type TestEnv } from '../helpers/harness.js';
import { nodeEntry } from '../helpers/node-entry.js';
import { ROOT } from '../helpers/processes.js';

let env: TestEnv;
let t: Tenant;
let other: Tenant;
const noLogin = fs.mkdtempSync(path.join(os.tmpdir(), 'bulkhead-cli-receipts-'));

/** The seeded mailbox (src/providers/google/seed.ts): 6 receipts, 2 receipt-looking mails that are skipped. */
const SEEDED_RECEIPTS = 6;

before(async () => {
  env = await startTestEnv({ listen: true, env: { GMAIL_SYNC_EVERY_MS: '3600000', GATE_DEDUP_WINDOW_S: '0' } });
  t = await createTenant(env);
  other = await createTenant(env);
  await env.pool.query(`UPDATE businesses SET rate_limits = '{"sync_gmail_receipts":1000}'::jsonb WHERE id = ANY($1::bigint[])`, [[t.businessId, other.businessId]]);
  // Connect t: POST connect, follow the simulator's consent like a browser, arrive at our callback.
  const started = await env.app.inject({ method: 'POST', url: '/api/v1/integrations/gmail/connect', headers: t.headers });
  assert.equal(started.statusCode, 200, started.body);
  const google = await fetch((started.json() as { auth_url: string }).auth_url, { redirect: 'manual' });
  assert.equal(google.status, 302);
  const back = new URL(google.headers.get('location') ?? '');
  const done = await env.app.inject({ method: 'GET', url: `${back.pathname}${back.search}` });
  assert.equal(done.statusCode, 200, done.body);
});
after(async () => {
  await env.close();
  fs.rmSync(noLogin, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `bulkhead ARGS` with only the Bulkhead variables given here (none from the caller's shell or a stored login). */
function run(args: string[], token: string): Promise<Run> {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['BULKHEAD_URL', 'BULKHEAD_TOKEN', 'BULKHEAD_PASSWORD', 'XDG_CONFIG_HOME', 'ADMIN_TOKEN']) delete base[k];
  const proc = spawn(process.execPath, [...nodeEntry(path.join(ROOT, 'src/cli/main.ts')), ...args], {
    cwd: ROOT,
    env: { ...base, HOME: noLogin, BULKHEAD_CONFIG_DIR: noLogin, BULKHEAD_URL: env.baseUrl, BULKHEAD_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  return new Promise((resolve) => proc.on('close', (code) => resolve({ code, stdout, stderr })));
}

const receiptCount = async (businessId: number): Promise<number> =>
  (await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM receipts WHERE business_id = $1`, [businessId])).rows[0]?.n ?? -1;

describe('bulkhead receipts sync', () => {
  test('connected: follows the first sync to its end, exit 0, prints the imported count', async () => {
    const r = await run(['receipts', 'sync'], t.token);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /syncing receipts from Gmail: job \d+/);
    assert.match(r.stdout, /^job \d+ sync_gmail_receipts completed: /m);
    assert.match(r.stdout, new RegExp(`^ {2}full sync: imported ${SEEDED_RECEIPTS} receipts, 0 already known, 2 skipped \\(`, 'm'));
    assert.equal(await receiptCount(t.businessId), SEEDED_RECEIPTS);
  });

  test('--watch --json: the ended job as JSON (an incremental sync that imports nothing new)', async () => {
    const r = await run(['receipts', 'sync', '--watch', '--json'], t.token);
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout) as { id: number; type: string; status: string; result: { mode: string; imported: number } };
    assert.equal(job.type, 'sync_gmail_receipts');
    assert.equal(job.status, 'completed');
    assert.deepEqual([job.result.mode, job.result.imported], ['incremental', 0]);
    assert.equal(await receiptCount(t.businessId), SEEDED_RECEIPTS, 'nothing imported twice');
  });

  test('--no-watch --json: the 202 answer at once', async () => {
    const r = await run(['receipts', 'sync', '--no-watch', '--json'], t.token);
    assert.equal(r.code, 0, r.stderr);
    const accepted = JSON.parse(r.stdout) as { job_id: number; status: string };
    assert.ok(Number.isInteger(accepted.job_id));
    const { rows } = await env.pool.query<{ type: string; business_id: number }>(`SELECT type, business_id::int FROM jobs WHERE id = $1`, [accepted.job_id]);
    assert.deepEqual(rows, [{ type: 'sync_gmail_receipts', business_id: t.businessId }]);
  });

  test('no mailbox connected: exit 6 with a message that says what to do; nothing queued', async () => {
    const r = await run(['receipts', 'sync'], other.token);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, /^error \(409 gmail_not_connected\): Gmail is not connected: connect a mailbox first/m);
    const { rows } = await env.pool.query(`SELECT 1 FROM jobs WHERE business_id = $1`, [other.businessId]);
    assert.equal(rows.length, 0);
  });

  test('an agent\'s token: 403, exit 5', async () => {
    const made = await env.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: t.headers, payload: { name: 'agent cli', role: 'agent' } });
    assert.equal(made.statusCode, 201, made.body);
    const r = await run(['receipts', 'sync'], (made.json() as { token: string }).token);
    assert.equal(r.code, 5, r.stderr);
    assert.match(r.stderr, /403 forbidden/);
  });

  test('--help shows --watch, --no-watch, --json and the exit codes the tests above rely on', async () => {
    const r = await run(['receipts', 'sync', '--help'], '');
    assert.equal(r.code, 0, r.stderr);
    for (const flag of ['--watch', '--no-watch', '--json']) assert.match(r.stdout, new RegExp(`^ {2}${flag} `, 'm'), flag);
    assert.match(r.stdout, /5 for a token whose role may not sync/);
    assert.match(r.stdout, /6 when no mailbox is connected \(409\)/);
  });
});
