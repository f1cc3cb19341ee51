import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { pino, type Logger } from 'pino';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { createTestDatabase } from '../helpers/db.js';
import { nodeEntry } from '../helpers/node-entry.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/embedded-child.ts');
const FAST = ['-c', 'fsync=off'];

test('createTestDatabase gives each caller its own database', { timeout: 30_000 }, async () => {
  const db = await createTestDatabase();
  try {
    const [row] = await query(db.url, 'SELECT 1 AS one, current_database() AS name');
    assert.equal(row?.one, 1);
    assert.match(String(row?.name), /^bh_test_[0-9a-f]{12}$/);
  } finally {
    await db.drop();
    await db.drop();
  }
  await assert.rejects(query(db.url, 'SELECT 1'), /does not exist/);
});

test('a server orphaned by kill -9 of its Node process is stopped at the next start, data intact', { timeout: 60_000 }, async (t) => {
  const cleanup = deferStack(t);
  const dataDir = await tempDataDir(cleanup);

  const child = spawn(process.execPath, [...nodeEntry(FIXTURE), dataDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup(() => { child.kill('SIGKILL'); });
  const orphan = await readReadyLine(child);
  cleanup(() => stopProcess(orphan.serverPid));
  await query(orphan.url, 'CREATE TABLE survivor (v text)');
  await query(orphan.url, 'INSERT INTO survivor VALUES ($1)', ['written before kill -9']);

  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.equal(await isRunning(orphan.serverPid), true, 'the server outlives its Node parent');
  await query(orphan.url, 'SELECT 1');

  const { log, messages } = captureLog();
  const server = await startEmbeddedPostgres({ dataDir, log, extraFlags: FAST });
  cleanup(() => server.stop());
  assert.equal(await isRunning(orphan.serverPid), false, 'the orphan was stopped');
  assert.ok(messages.includes('stopping orphaned PostgreSQL left by a previous run'));
  assert.deepEqual(await query(server.url, 'SELECT v FROM survivor'), [{ v: 'written before kill -9' }]);
  await server.stop();
});

test('a restart reuses the cluster, and a second launcher on a live DATA_DIR is refused', { timeout: 60_000 }, async (t) => {
  const cleanup = deferStack(t);
  const dataDir = await tempDataDir(cleanup);

  const first = captureLog();
  let started = performance.now();
  const a = await startEmbeddedPostgres({ dataDir, log: first.log, extraFlags: FAST });
  const firstMs = performance.now() - started;
  cleanup(() => a.stop());
  await query(a.url, 'CREATE TABLE kept (v int)');
  await query(a.url, 'INSERT INTO kept VALUES (7)');

  await assert.rejects(
    startEmbeddedPostgres({ dataDir, log: captureLog().log }),
    new RegExp(`is in use by a running PostgreSQL \\(pid \\d+\\) owned by process ${process.pid} `),
  );
  const versionFile = await fs.stat(path.join(a.dataDir, 'PG_VERSION'));
  await a.stop();
  await a.stop();

  const second = captureLog();
  started = performance.now();
  const b = await startEmbeddedPostgres({ dataDir, log: second.log, extraFlags: FAST });
  const secondMs = performance.now() - started;
  cleanup(() => b.stop());
  t.diagnostic(`first start (initdb) ${Math.round(firstMs)} ms, restart ${Math.round(secondMs)} ms`);

  const initdb = 'initialising PostgreSQL cluster (initdb)';
  assert.ok(first.messages.includes(initdb));
  assert.ok(!second.messages.includes(initdb));
  const after = await fs.stat(path.join(b.dataDir, 'PG_VERSION'));
  assert.equal(after.ino, versionFile.ino);
  assert.equal(b.url.includes(encodeURIComponent(await readPassword(dataDir))), true, 'the persisted password is reused');
  assert.deepEqual(await query(b.url, 'SELECT v FROM kept'), [{ v: 7 }]);
  await b.stop();
});

test('a server that fails to start explains why', { timeout: 60_000 }, async (t) => {
  const cleanup = deferStack(t);
  const dataDir = await tempDataDir(cleanup);
  await assert.rejects(
    startEmbeddedPostgres({ dataDir, log: captureLog().log, extraFlags: ['-c', 'max_connections=lots'] }),
    /failed to start[\s\S]*invalid value for parameter "max_connections"/,
  );
});

// ---------------------------------------------------------------------------------------------

/** Registers cleanups that run last-in-first-out after the test, whatever its outcome. */
function deferStack(t: TestContext): (fn: () => unknown) => void {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    for (const fn of stack.reverse()) await fn();
  });
  return (fn) => { stack.push(fn); };
}

async function tempDataDir(cleanup: (fn: () => unknown) => void): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulkhead-embedded-test-'));
  cleanup(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function query(url: string, text: string, values: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

function captureLog(): { log: Logger; messages: string[] } {
  const messages: string[] = [];
  const log = pino({ level: 'debug' }, {
    write(line: string) {
      const parsed: unknown = JSON.parse(line);
      if (parsed !== null && typeof parsed === 'object' && 'msg' in parsed && typeof parsed.msg === 'string') messages.push(parsed.msg);
    },
  });
  return { log, messages };
}

interface Ready { port: number; url: string; serverPid: number }

async function readReadyLine(child: ChildProcess): Promise<Ready> {
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const newline = stdout.indexOf('\n');
      if (newline === -1) return;
      const parsed: unknown = JSON.parse(stdout.slice(0, newline));
      if (parsed !== null && typeof parsed === 'object' && 'url' in parsed && typeof parsed.url === 'string'
        && 'port' in parsed && typeof parsed.port === 'number' && 'serverPid' in parsed && typeof parsed.serverPid === 'number') {
        resolve({ url: parsed.url, port: parsed.port, serverPid: parsed.serverPid });
      } else {
        reject(new Error(`unexpected fixture output: ${stdout}`));
      }
    });
    child.once('exit', (code) => reject(new Error(`fixture exited (${code}) before it was ready:\n${stderr}`)));
  });
}

async function readPassword(dataDir: string): Promise<string> {
  return (await fs.readFile(path.join(dataDir, 'pg-password'), 'utf8')).trim();
}

/** Zombies count as gone: they have exited and only wait for their parent to reap them. */
async function isRunning(pid: number): Promise<boolean> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** Safety net for a failed test: never leave a server running. */
async function stopProcess(pid: number): Promise<void> {
  const comm = await fs.readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '');
  if (comm.trim() !== 'postgres' || !(await isRunning(pid))) return;
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 500 && (await isRunning(pid)); i++) await new Promise((r) => setTimeout(r, 20));
  if (await isRunning(pid)) process.kill(pid, 'SIGKILL');
}
