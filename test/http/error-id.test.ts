/**
 * Issue 12.6: client-facing errors never carry database text. A 500 and a failed /readyz show an
 * error id; the raw error is in the log under that id. publicErrorText is the same rule for text
 * that is stored for clients (a job's last_error).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { createPool } from '../../src/db/pool.js';
import { buildApp } from '../../src/http/app.js';
import { createAppMetrics } from '../../src/http/metrics.js';
import { AppError, NotFoundError, PermanentError, publicErrorText } from '../../src/lib/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { ADMIN_TOKEN, TEST_ENV } from '../helpers/harness.js';

describe('publicErrorText', () => {
  test('domain errors keep their message; anything else is a sentence with a fresh error id', () => {
    assert.deepEqual(publicErrorText(new PermanentError('user 7 is no longer a user of this business')), { text: 'user 7 is no longer a user of this business', errorId: null });
    assert.deepEqual(publicErrorText(new NotFoundError('Import')), { text: 'Import was not found.', errorId: null });
    assert.equal(publicErrorText(new AppError(409, 'x', 'said for clients')).text, 'said for clients');

    const dbError = Object.assign(new Error('invalid input syntax for type json: Unicode low surrogate must follow a high surrogate.'), { code: '22P02', detail: 'Token "\\udc00" is invalid.' });
    for (const err of [dbError, new TypeError('Cannot read properties of undefined'), 'a string', null]) {
      const { text, errorId } = publicErrorText(err);
      assert.match(errorId ?? '', /^[0-9a-f]{12}$/);
      assert.ok(text.includes(`error id ${errorId}`), text);
      assert.doesNotMatch(text, /surrogate|json|undefined|string/i);
    }
    assert.notEqual(publicErrorText(dbError).errorId, publicErrorText(dbError).errorId);
  });
});

/** Log lines as objects, from a pino logger writing here. */
function memoryLog() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, log: pino({ level: 'info' }, stream) };
}

describe('answers carry an error id, never database text', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let deadPool: pg.Pool;
  const logged = memoryLog();
  let app: FastifyInstance;
  let deadApp: FastifyInstance;

  before(async () => {
    // A database without migrations: every query on a table fails with PostgreSQL's own text
    // ("relation \"businesses\" does not exist"), which must not reach the client.
    db = await createTestDatabase({ empty: true });
    const config = loadConfig({ ...TEST_ENV, DATABASE_URL: db.url });
    pool = createPool(db.url, { max: 2, idleInTxTimeoutMs: 0 }, logged.log);
    app = await buildApp({ pool, config, log: logged.log, metrics: createAppMetrics(pool), jobEvents: null, modules: [] });
    await app.ready();
    // A server that is not there: a port that was free a moment ago.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    deadPool = new pg.Pool({ connectionString: `postgres://nobody:secret@127.0.0.1:${port}/nowhere`, connectionTimeoutMillis: 2_000 });
    deadPool.on('error', () => undefined);
    deadApp = await buildApp({ pool: deadPool, config, log: logged.log, metrics: createAppMetrics(deadPool), jobEvents: null, modules: [] });
    await deadApp.ready();
  });
  after(async () => {
    await app.close();
    await deadApp.close();
    await pool.end();
    await deadPool.end();
    await db.drop();
  });

  const errorIdIn = (body: string) => (JSON.parse(body) as { error: { details?: { error_id?: string } } }).error.details?.error_id ?? '';

  test('a 500 shows an error id; the log has the raw PostgreSQL error under it', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/admin/businesses', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { name: 'Acme' } });
    assert.equal(res.statusCode, 500, res.body);
    const { error } = res.json() as { error: { code: string; message: string } };
    assert.equal(error.code, 'internal_error');
    const id = errorIdIn(res.body);
    assert.match(id, /^[0-9a-f]{12}$/);
    assert.ok(error.message.includes(`error id ${id}`), error.message);
    assert.doesNotMatch(res.body, /relation|businesses|does not exist|42P01/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');

    const line = logged.lines.find((l) => l.errorId === id);
    assert.ok(line, `a log line with errorId ${id}`);
    assert.match((line.err as { message?: string }).message ?? '', /relation "businesses" does not exist/);
  });

  test('/readyz with the database unreachable: 503 "database unreachable" and an error id; the driver text only in the log', async () => {
    const res = await deadApp.inject({ method: 'GET', url: '/readyz' });
    assert.equal(res.statusCode, 503, res.body);
    const { error } = res.json() as { error: { code: string; message: string } };
    assert.equal(error.code, 'not_ready');
    assert.match(error.message, /database is unreachable/);
    const id = errorIdIn(res.body);
    assert.match(id, /^[0-9a-f]{12}$/);
    assert.ok(error.message.includes(id));
    assert.doesNotMatch(res.body, /ECONNREFUSED|127\.0\.0\.1|nobody|nowhere|connect/);
    const line = logged.lines.find((l) => l.errorId === id);
    assert.ok(line, `a log line with errorId ${id}`);
    assert.match(JSON.stringify(line.err), /ECONNREFUSED/);
  });
});
