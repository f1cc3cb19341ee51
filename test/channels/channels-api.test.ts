import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generatedKeyPath, loadSecretBox } from '../../src/channels/secrets-key.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { generateSecretKey, SecretBox, SecretOpenError, secretKeyFrom } from '../../src/lib/secret-box.js';
import { createTenant, startTestEnv, TEST_ENV, type Tenant, type TestEnv } from '../helpers/harness.js';
import { tokenWithRole } from '../people/helpers.js';

/**
 * Issue 14, "every business its own numbers": channel storage and its API. Secrets are sealed
 * (AES-256-GCM under SECRETS_KEY) before they are stored, never shown again ("…last4"), changes
 * are audited without them, and a number belongs to one business.
 */
const TOKEN = '0123456789abcdef0123456789abcd42';
const SID = 'AC0123456789abcdef0123456789abcdef';
const ACCESS = 'EAAGm0PX4ZCpsBA-access-token-of-business-one-9f8e';
const APP_SECRET = 'app-secret-of-business-one-7d1c';

describe('the secret box', () => {
  const a = secretKeyFrom(generateSecretKey());
  const b = secretKeyFrom(generateSecretKey());

  test('seals with the current key, names it, opens only in the same context, detects tampering', () => {
    const box = new SecretBox(a);
    const sealed = box.seal(TOKEN, 'voice_channels.auth_token:7');
    assert.ok(!sealed.includes(TOKEN) && !sealed.includes(Buffer.from(TOKEN).toString('base64')), 'not the plaintext, not its base64');
    assert.equal(SecretBox.keyIdOf(sealed), a.id);
    assert.notEqual(box.seal(TOKEN, 'voice_channels.auth_token:7'), sealed, 'a fresh nonce each time');
    assert.equal(box.open(sealed, 'voice_channels.auth_token:7'), TOKEN);
    assert.throws(() => box.open(sealed, 'voice_channels.auth_token:8'), SecretOpenError, 'another business\'s row');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[4] ?? '', 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    assert.throws(() => box.open([...parts.slice(0, 4), body.toString('base64url')].join('.'), 'voice_channels.auth_token:7'), SecretOpenError);
  });

  test('a box opens values of its previous key and seals with the current one; an unknown key is named, the value never', () => {
    const old = new SecretBox(a).seal(TOKEN, 'c');
    const rotated = new SecretBox(b, [a]);
    assert.equal(rotated.open(old, 'c'), TOKEN);
    assert.equal(SecretBox.keyIdOf(rotated.seal(TOKEN, 'c')), b.id);
    const err = (() => {
      try {
        new SecretBox(b).open(old, 'c');
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    assert.ok(err instanceof SecretOpenError);
    assert.ok(err.message.includes(a.id) && !err.message.includes(TOKEN), err.message);
  });

  test('SECRETS_KEY: 32 bytes of base64, required in production, never echoed in the error', () => {
    assert.throws(() => loadConfig({ ...TEST_ENV, NODE_ENV: 'production' }), (e: Error) => e instanceof ConfigError && /SECRETS_KEY must be set/.test(e.message));
    const short = Buffer.alloc(16, 7).toString('base64');
    assert.throws(() => loadConfig({ ...TEST_ENV, SECRETS_KEY: short }), (e: Error) => e instanceof ConfigError && /SECRETS_KEY.*16 bytes/.test(e.message) && !e.message.includes(short));
    assert.throws(() => loadConfig({ ...TEST_ENV, SECRETS_KEY: generateSecretKey(), SECRETS_KEY_PREVIOUS: 'not base64!' }), /SECRETS_KEY_PREVIOUS/);
    const key = generateSecretKey();
    assert.equal(loadConfig({ ...TEST_ENV, NODE_ENV: 'production', SECRETS_KEY: key }).secrets.key, key);
  });

  test('unset, the key is generated once into DATA_DIR (0600) and every process starting at once gets the same one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bulkhead-secrets-'));
    try {
      const log = createLogger('silent');
      const config = { dataDir: dir, secrets: { key: null, previous: null } };
      const boxes = await Promise.all(Array.from({ length: 8 }, () => loadSecretBox(config, log)));
      assert.equal(new Set(boxes.map((x) => x.currentKeyId)).size, 1, 'one key');
      const file = generatedKeyPath(dir);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal(secretKeyFrom(await readFile(file, 'utf8')).id, boxes[0]?.currentKeyId);
      assert.equal((await loadSecretBox(config, log)).currentKeyId, boxes[0]?.currentKeyId, 'read back on the next start');
      const given = generateSecretKey();
      assert.equal((await loadSecretBox({ dataDir: dir, secrets: { key: given, previous: null } }, log)).currentKeyId, secretKeyFrom(given).id, 'SECRETS_KEY wins over the file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

let env: TestEnv;
let a: Tenant;
let b: Tenant;

before(async () => {
  env = await startTestEnv({ listen: true });
  a = await createTenant(env, { default_country: 'IL' });
  b = await createTenant(env);
});
after(() => env.close());

async function call(who: { headers: Record<string, string> } | string, method: 'GET' | 'PUT', url: string, payload?: unknown) {
  const headers = typeof who === 'string' ? { authorization: `Bearer ${who}` } : who.headers;
  const res = await env.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> & { error?: { code: string; details?: { issues?: { path: string }[] } } }, text: res.body };
}

async function stored(table: string, businessId: number): Promise<Record<string, unknown>> {
  const { rows } = await env.pool.query(`SELECT * FROM ${table} WHERE business_id = $1`, [businessId]);
  return rows[0] as Record<string, unknown>;
}

describe('voice channel', () => {
  test('without one: no caller ids, no subaccount', async () => {
    const res = await call(b, 'GET', '/channels/voice');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { caller_ids: [], twilio: null, updated_at: null });
  });

  test('PUT normalizes caller ids with the business\'s country, stores the auth token sealed, shows "…last4"; audited without the secret', async () => {
    const res = await call(a, 'PUT', '/channels/voice', { caller_ids: ['03-721-1234', '+972 3-721-1234', '+1 212 555 0100'], twilio: { account_sid: SID, auth_token: TOKEN } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.caller_ids, ['+97237211234', '+12125550100'], 'E.164, local numbers read as Israeli, duplicates once');
    assert.deepEqual(res.body.twilio, { account_sid: SID, auth_token: '…cd42' });
    assert.ok(!res.text.includes(TOKEN));
    assert.deepEqual(await call(a, 'GET', '/channels/voice').then((r) => r.body), res.body);

    const row = await stored('voice_channels', a.businessId);
    assert.equal(typeof row.auth_token_sealed, 'string');
    assert.ok(!JSON.stringify(row).includes(TOKEN), 'the stored row holds no plaintext');
    assert.match(String(row.auth_token_sealed), /^v1\.[0-9a-f]{16}\./);

    const { rows } = await env.pool.query<{ action: string; target_type: string; target_id: string; details: Record<string, unknown> }>(
      `SELECT action, target_type, target_id, details FROM audit_log WHERE business_id = $1 AND action = 'channel.update'`, [a.businessId]);
    assert.equal(rows.length, 1);
    assert.deepEqual([rows[0]?.target_type, rows[0]?.target_id], ['channel', 'voice']);
    assert.deepEqual(rows[0]?.details, { caller_ids: ['+97237211234', '+12125550100'], account_sid: SID, auth_token_changed: true });
    assert.ok(!JSON.stringify(rows).includes(TOKEN));
  });

  test('the hint sent back keeps the stored token; for another account it is a 400 and nothing changes', async () => {
    const before = await stored('voice_channels', a.businessId);
    const kept = await call(a, 'PUT', '/channels/voice', { caller_ids: ['+97237211234'], twilio: { account_sid: SID, auth_token: '…cd42' } });
    assert.equal(kept.status, 200, kept.text);
    assert.equal((await stored('voice_channels', a.businessId)).auth_token_sealed, before.auth_token_sealed, 'same sealed value');
    const other = await call(a, 'PUT', '/channels/voice', { caller_ids: [], twilio: { account_sid: SID.replace('AC0', 'AC1'), auth_token: '…cd42' } });
    assert.equal(other.status, 400);
    assert.equal(other.body.error?.details?.issues?.[0]?.path, 'body.twilio.auth_token');
    assert.deepEqual((await call(a, 'GET', '/channels/voice')).body.caller_ids, ['+97237211234'], 'unchanged');
  });

  test('a caller id of another business is a 409 and changes nothing; bad numbers and sids are 400s naming the field', async () => {
    const taken = await call(b, 'PUT', '/channels/voice', { caller_ids: ['+16465550199', '+97237211234'] });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error?.code, 'caller_id_taken');
    assert.deepEqual((await call(b, 'GET', '/channels/voice')).body.caller_ids, []);
    const bad = await call(b, 'PUT', '/channels/voice', { caller_ids: ['+16465550199', 'not a phone'] });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.body.error?.details?.issues?.[0]?.path, 'body.caller_ids.1');
    const sid = await call(b, 'PUT', '/channels/voice', { caller_ids: [], twilio: { account_sid: 'AC123', auth_token: TOKEN } });
    assert.equal(sid.status, 400);
    assert.ok(sid.body.error?.details?.issues?.some((i) => i.path === 'body.twilio.account_sid'));
    assert.ok(!sid.text.includes(TOKEN), 'a refusal does not echo the secret');
  });

  test('an agent reads the channel (secrets are never shown) but cannot change it', async () => {
    const agent = await tokenWithRole(env, a.businessId, `agent-${Date.now()}@channels.test`, 'agent');
    assert.equal((await call(agent.token, 'GET', '/channels/voice')).status, 200);
    const res = await call(agent.token, 'PUT', '/channels/voice', { caller_ids: [] });
    assert.equal(res.status, 403);
    assert.equal(res.body.error?.code, 'forbidden');
  });
});

describe('WhatsApp channel', () => {
  test('without one: the deployment\'s sender', async () => {
    const res = await call(b, 'GET', '/channels/whatsapp');
    assert.deepEqual(res.body, { phone_number_id: env.config.whatsapp.phoneNumberId, own: false, access_token: null, app_secret: null, updated_at: null });
  });

  test('PUT stores both secrets sealed, shows "…last4", audits without them', async () => {
    const res = await call(a, 'PUT', '/channels/whatsapp', { phone_number_id: '200000000000001', access_token: ACCESS, app_secret: APP_SECRET });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual({ ...res.body, updated_at: null }, { phone_number_id: '200000000000001', own: true, access_token: '…9f8e', app_secret: '…7d1c', updated_at: null });
    const row = await stored('whatsapp_channels', a.businessId);
    assert.ok(!JSON.stringify(row).includes(ACCESS) && !JSON.stringify(row).includes(APP_SECRET));
    const { rows } = await env.pool.query<{ details: Record<string, unknown> }>(
      `SELECT details FROM audit_log WHERE business_id = $1 AND action = 'channel.update' AND target_id = 'whatsapp'`, [a.businessId]);
    assert.deepEqual(rows.map((r) => r.details), [{ phone_number_id: '200000000000001', access_token_changed: true, app_secret: 'changed' }]);
  });

  test('another business\'s number, or the deployment\'s shared one, is a 409; a kept secret needs the same number', async () => {
    for (const phone_number_id of ['200000000000001', env.config.whatsapp.phoneNumberId]) {
      const res = await call(b, 'PUT', '/channels/whatsapp', { phone_number_id, access_token: ACCESS });
      assert.equal(res.status, 409, phone_number_id);
      assert.equal(res.body.error?.code, 'phone_number_id_taken');
    }
    const moved = await call(a, 'PUT', '/channels/whatsapp', { phone_number_id: '200000000000002', access_token: '…9f8e' });
    assert.equal(moved.status, 400);
    assert.equal(moved.body.error?.details?.issues?.[0]?.path, 'body.access_token');
    const kept = await call(a, 'PUT', '/channels/whatsapp', { phone_number_id: '200000000000001', access_token: '…9f8e', app_secret: null });
    assert.equal(kept.status, 200, kept.text);
    assert.deepEqual([kept.body.access_token, kept.body.app_secret], ['…9f8e', null]);
  });
});
