import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { pino } from 'pino';
import type { DomainModule } from '../../src/app/module.js';
import { startProcess, type BulkheadProcess } from '../../src/app/process.js';
import type { BroadcastsModule } from '../../src/broadcasts/module.js';
import { loadConfig } from '../../src/config/config.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { generateSecretKey, secretKeyFrom } from '../../src/lib/secret-box.js';
import { isOutboundModule } from '../../src/outbound/module.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { ADMIN_TOKEN, TEST_ENV, waitFor } from '../helpers/harness.js';
import { spawnTs } from '../helpers/processes.js';
import { OUTBOUND_ENV } from '../outbound/helpers.js';

/**
 * Issue 14 end to end, on the production wiring (startProcess) with the in-process simulators:
 * two businesses with their own caller ids, subaccounts and WhatsApp senders run a call run and
 * a broadcast at once; then SECRETS_KEY is rotated with `bulkhead secrets rotate` and a process
 * that knows only the new key runs them again. Every log line of all of it (LOG_LEVEL=debug,
 * the CLI's included) and every API answer is searched for the secrets: none may appear.
 */
const K1 = generateSecretKey();
const K2 = generateSecretKey();
const BIZ = [
  {
    callerIds: ['+12125550141', '+12125550142'],
    twilio: { account_sid: `AC${'c3'.repeat(16)}`, auth_token: 'twilio-token-of-business-one-c3c3' },
    whatsapp: { phone_number_id: '210000000000001', access_token: 'EAAG-access-token-of-business-one-1111', app_secret: 'app-secret-of-business-one-1111' },
  },
  {
    callerIds: ['+12125550151'],
    twilio: { account_sid: `AC${'d4'.repeat(16)}`, auth_token: 'twilio-token-of-business-two-d4d4' },
    whatsapp: { phone_number_id: '210000000000002', access_token: 'EAAG-access-token-of-business-two-2222', app_secret: 'app-secret-of-business-two-2222' },
  },
];
const SECRETS = [K1, K2, ...BIZ.flatMap((b) => [b.twilio.auth_token, b.whatsapp.access_token, b.whatsapp.app_secret])];

const logText: string[] = [];
const answers: string[] = [];
let db: TestDatabase;
let pool: pg.Pool;
let dataDir: string;
const tenants: Array<{ businessId: number; headers: Record<string, string> }> = [];

function memoryLogger() {
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logText.push(chunk.toString('utf8'));
      done();
    },
  });
  return pino({ level: 'debug' }, stream);
}

async function start(keys: Record<string, string>): Promise<BulkheadProcess> {
  const config = loadConfig({ ...TEST_ENV, ...OUTBOUND_ENV, ...keys, LOG_LEVEL: 'debug', DATABASE_URL: db.url, DATA_DIR: dataDir });
  return startProcess({ config, log: memoryLogger(), roles: { api: true, worker: true }, listen: true, db: { url: db.url, pool, embedded: null, close: async () => undefined } });
}

async function call(p: BulkheadProcess, headers: Record<string, string>, method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) {
  if (!p.app) throw new Error('no api');
  const res = await p.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
  answers.push(res.body);
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

function simsOf(p: BulkheadProcess) {
  const outbound = p.modules.find(isOutboundModule);
  const broadcasts = p.modules.find((m: DomainModule): m is BroadcastsModule => m.name === 'broadcasts' && 'simulator' in m);
  const twilio = outbound?.simulator;
  const whatsapp = broadcasts?.simulator();
  if (!twilio || !whatsapp) throw new Error('in-process simulators expected');
  return { twilio, whatsapp };
}

/** A call run and a broadcast for each business, all at once; waits for every call to complete and every message to be read. */
async function runEverything(p: BulkheadProcess, round: number): Promise<void> {
  const started = await Promise.all(tenants.map(async (t, i) => {
    const { rows: leads } = await pool.query<{ id: number; phone: string }>(
      `INSERT INTO leads (business_id, phone) SELECT $1::bigint, '+1646555' || lpad(($2::int * 100 + $3::int * 10 + g)::text, 4, '0') FROM generate_series(1, 4) g RETURNING id, phone`,
      [t.businessId, round, i],
    );
    const [run, broadcast] = await Promise.all([
      call(p, t.headers, 'POST', '/api/v1/outbound/runs', { lead_ids: leads.map((l) => l.id) }),
      call(p, t.headers, 'POST', '/api/v1/whatsapp/broadcasts', { text: `round ${round}`, lead_ids: leads.map((l) => l.id) }),
    ]);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    assert.equal(broadcast.status, 202, JSON.stringify(broadcast.body));
    return { t, runId: Number(run.body.run_id), broadcastId: Number(broadcast.body.broadcast_id), leads };
  }));
  await waitFor(async () => {
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM run_items WHERE run_id = ANY($1::bigint[]) AND status = 'completed'`, [started.map((s) => s.runId)]);
    return rows[0]?.n === 8;
  }, `round ${round}: every call completed (callbacks verified with each business's token)`, 60_000);
  await waitFor(async () => {
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM whatsapp_recipients WHERE broadcast_id = ANY($1::bigint[]) AND status = 'read'`, [started.map((s) => s.broadcastId)]);
    return rows[0]?.n === 8;
  }, `round ${round}: every message read (webhooks verified with each business's app secret)`, 60_000);

  const sims = simsOf(p);
  for (const [i, s] of started.entries()) {
    const biz = BIZ[i];
    assert.ok(biz);
    const { rows: calls } = await pool.query<{ from_number: string; call_sid: string }>(`SELECT from_number, call_sid FROM calls WHERE run_id = $1`, [s.runId]);
    assert.ok(calls.every((c) => biz.callerIds.includes(c.from_number)), `round ${round}: business ${i + 1}'s calls from its own caller ids`);
    for (const c of calls) {
      const atSim = sims.twilio.calls.get(c.call_sid);
      assert.deepEqual([atSim?.accountSid, atSim?.from], [biz.twilio.account_sid, c.from_number], 'placed in its own account');
    }
    const sent = sims.whatsapp.acceptedFrom(biz.whatsapp.phone_number_id).map((m) => m.to);
    for (const l of s.leads) assert.ok(sent.includes(l.phone), `round ${round}: ${l.phone} messaged from business ${i + 1}'s number`);
  }
}

before(async () => {
  db = await createTestDatabase();
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'bulkhead-rotation-'));
  pool = createPool(db.url, { max: 20 }, memoryLogger());
  await migrate(pool, memoryLogger());
});
after(async () => {
  await pool.end();
  await db.drop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('channels end to end', () => {
  test('two businesses run calls and broadcasts at once on their own channels; after rotating SECRETS_KEY, a process with only the new key still runs them; no secret in any log or answer', async () => {
    const first = await start({ SECRETS_KEY: K1 });
    try {
      for (const [i, biz] of BIZ.entries()) {
        const created = await call(first, { authorization: `Bearer ${ADMIN_TOKEN}` }, 'POST', '/api/v1/admin/businesses', { name: `Channels ${i + 1}` });
        assert.equal(created.status, 201);
        const t = { businessId: (created.body.business as { id: number }).id, headers: { authorization: `Bearer ${String(created.body.token)}` } };
        tenants.push(t);
        assert.equal((await call(first, t.headers, 'PUT', '/api/v1/channels/voice', { caller_ids: biz.callerIds, twilio: biz.twilio })).status, 200);
        assert.equal((await call(first, t.headers, 'PUT', '/api/v1/channels/whatsapp', biz.whatsapp)).status, 200);
        await call(first, t.headers, 'GET', '/api/v1/channels/voice');
        await call(first, t.headers, 'GET', '/api/v1/channels/whatsapp');
      }
      await runEverything(first, 1);
    } finally {
      await first.stop();
    }

    const stored = async () => (await pool.query<{ t: string }>(
      `SELECT string_agg(x::text, ' ') AS t FROM (SELECT to_jsonb(v) AS x FROM voice_channels v UNION ALL SELECT to_jsonb(w) FROM whatsapp_channels w UNION ALL SELECT to_jsonb(a) FROM audit_log a) s`)).rows[0]?.t ?? '';
    const sealedUnder = async () => (await pool.query<{ k: string }>(
      `SELECT split_part(auth_token_sealed, '.', 2) AS k FROM voice_channels UNION SELECT split_part(access_token_sealed, '.', 2) FROM whatsapp_channels
       UNION SELECT split_part(app_secret_sealed, '.', 2) FROM whatsapp_channels`)).rows.map((r) => r.k);
    assert.deepEqual(await sealedUnder(), [secretKeyFrom(K1).id]);

    const cli = await spawnTs('src/cli/main.ts', { DATABASE_URL: db.url, DATA_DIR: dataDir, SECRETS_KEY: K2, SECRETS_KEY_PREVIOUS: K1, LOG_LEVEL: 'debug' }, ['secrets', 'rotate'], /secrets rotated/);
    assert.equal(await cli.exited, 0, cli.lines.join('\n'));
    logText.push(...cli.lines);
    assert.ok(cli.lines.some((l) => l.includes('6 re-encrypted')), cli.lines.join('\n'));
    assert.deepEqual(await sealedUnder(), [secretKeyFrom(K2).id], 'every secret under the new key');
    const again = await spawnTs('src/cli/main.ts', { DATABASE_URL: db.url, DATA_DIR: dataDir, SECRETS_KEY: K2, SECRETS_KEY_PREVIOUS: K1 }, ['secrets', 'rotate'], /secrets rotated/);
    assert.equal(await again.exited, 0);
    assert.ok(again.lines.some((l) => l.includes('0 re-encrypted') && l.includes('6 already')), again.lines.join('\n'));

    const second = await start({ SECRETS_KEY: K2 });
    try {
      await runEverything(second, 2);
    } finally {
      await second.stop();
    }

    // A key that opens nothing: every secret is listed, none is touched, the command fails.
    const wrong = await spawnTs('src/cli/main.ts', { DATABASE_URL: db.url, DATA_DIR: dataDir, SECRETS_KEY: generateSecretKey() }, ['secrets', 'rotate'], /secrets rotated/);
    assert.equal(await wrong.exited, 1);
    assert.equal(wrong.lines.join('\n').match(/not readable/g)?.length, 6, wrong.lines.join('\n'));
    assert.deepEqual(await sealedUnder(), [secretKeyFrom(K2).id], 'untouched');

    const everything = [logText.join(''), answers.join('\n'), await stored()];
    const logs = logText.join('');
    for (const part of ['twilio simulator started in-process', 'WhatsApp simulator listening', 'worker started', 'secrets rotated']) {
      assert.ok(logs.includes(part), `the captured logs hold ${part}: both processes, their simulators and the CLI (at LOG_LEVEL=debug)`);
    }
    for (const secret of SECRETS) {
      for (const [i, text] of everything.entries()) {
        assert.ok(!text.includes(secret), `a secret (…${secret.slice(-4)}) appears in ${['the logs', 'an API answer', 'the database in clear'][i]}`);
      }
    }
  });
});
