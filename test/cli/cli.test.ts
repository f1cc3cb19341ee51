/**
 * The CLI as a user runs it: a real child process (`node --import tsx src/cli/main.ts …`)
 * against this file's API on a real port, with a worker started only when a test wants one.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ADMIN_TOKEN, createTenant, startTestEnv, type Tenant, type TestEnv } from '../helpers/harness.js';
import { nodeEntry } from '../helpers/node-entry.js';
import { ROOT } from '../helpers/processes.js';
import { createTestDatabase } from '../helpers/db.js';
import { bulkDelete as bulkDeleteAs, leadSeeder } from '../leads/helpers.js';
import type { Worker } from '../../src/jobs/worker.js';

let env: TestEnv;
const noLoginDir = mkdtempSync(path.join(os.tmpdir(), 'bulkhead-cli-nologin-'));
let tmp: string;

before(async () => {
  env = await startTestEnv({ worker: false, listen: true, env: { JOB_BATCH_SIZE: '20', JOB_BATCH_PAUSE_MS: '20', GATE_DEDUP_WINDOW_S: '120' } });
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'bulkhead-cli-'));
});
after(async () => {
  await env.close();
  await fs.rm(tmp, { recursive: true, force: true });
});

interface Cli {
  code: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  stdout(): string;
  stderr(): string;
  /** Resolves when stderr or stdout matches (a state of the CLI, never a sleep). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Starts `bulkhead ARGS` with only the Bulkhead variables given here (none from the caller's shell). */
function cli(args: string[], vars: Record<string, string> = {}): Cli {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['BULKHEAD_URL', 'BULKHEAD_TOKEN', 'ADMIN_TOKEN']) delete base[k];
  const proc = spawn(process.execPath, [...nodeEntry(path.join(ROOT, 'src/cli/main.ts')), ...args], {
    cwd: ROOT,
    // A login stored on this machine (~/.config/bulkhead) must not stand in for a missing token.
    env: { ...base, BULKHEAD_URL: env.baseUrl, BULKHEAD_CONFIG_DIR: noLoginDir, ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const changed = () => waiters.forEach((w) => w());
  proc.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    changed();
  });
  proc.stderr.on('data', (c: Buffer) => {
    err += c.toString('utf8');
    changed();
  });
  const code = new Promise<number | null>((resolve) => proc.on('close', (c) => resolve(c)));
  return {
    code,
    kill: (signal) => proc.kill(signal),
    stdout: () => out,
    stderr: () => err,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(out) && !pattern.test(err)) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`CLI output never matched ${pattern}\nstdout: ${out}\nstderr: ${err}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        void code.then(() => {
          check();
          if (waiters.has(check)) {
            cleanup();
            reject(new Error(`CLI exited before its output matched ${pattern}\nstdout: ${out}\nstderr: ${err}`));
          }
        });
        check();
      });
    },
  };
}

async function run(args: string[], vars: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = cli(args, vars);
  const code = await c.code;
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

const as = (t: Tenant) => ({ BULKHEAD_TOKEN: t.token });

const seed = leadSeeder();
const seedLeads = (t: Tenant, n: number): Promise<number[]> => seed(env, t, n);
const bulkDelete = (t: Tenant, ids: number[]): Promise<number> => bulkDeleteAs(env, t, ids);

async function withWorker<T>(fn: () => Promise<T>): Promise<T> {
  const worker: Worker = await env.startWorker();
  try {
    return await fn();
  } finally {
    await worker.stop();
    env.workers.splice(env.workers.indexOf(worker), 1);
  }
}

describe('bulkhead CLI', () => {
  test('jobs watch follows a bulk delete from queued to 100 % and exits 0', async () => {
    const t = await createTenant(env);
    const jobId = await bulkDelete(t, await seedLeads(t, 200));
    const watch = cli(['jobs', 'watch', String(jobId)], as(t));
    // No worker yet: the watcher must be following the live stream, not reading a finished job.
    await watch.waitFor(/\bqueued\b/);
    await withWorker(async () => {
      assert.equal(await watch.code, 0, watch.stderr());
    });
    const bar = watch.stderr();
    assert.match(bar, new RegExp(`job ${jobId} delete_leads_bulk  \\[-{20}\\]\\s+0%  0/200 .* queued`));
    assert.match(bar, /\[#{20}\] {2}100% {2}200\/200 {2}[\d.]+\/s {2}ETA 0s {2}completed/);
    assert.doesNotMatch(bar, /\r/, 'no carriage returns when stderr is not a terminal');
    assert.match(watch.stdout(), new RegExp(`^job ${jobId} delete_leads_bulk completed: 200/200 processed, 200 succeeded, 0 failed`));
    const { rows } = await env.pool.query('SELECT count(*)::int AS n FROM leads WHERE business_id = $1', [t.businessId]);
    assert.equal(rows[0].n, 0);
  });

  test('pause, cancel: jobs watch exits 1 for a cancelled job; resuming it then is a 409 (exit 6)', async () => {
    const t = await createTenant(env);
    const jobId = await bulkDelete(t, await seedLeads(t, 30));
    const paused = await run(['jobs', 'pause', String(jobId)], as(t));
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(paused.stdout.trim(), `job ${jobId}: paused`);
    const watch = cli(['jobs', 'watch', String(jobId)], as(t));
    await watch.waitFor(/\bpaused\b/);
    const cancelled = await run(['jobs', 'cancel', String(jobId)], as(t));
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(cancelled.stdout.trim(), `job ${jobId}: cancelled`);
    assert.equal(await watch.code, 1, watch.stderr());
    assert.match(watch.stdout(), new RegExp(`job ${jobId} delete_leads_bulk cancelled: 0/30 processed`));
    const resumed = await run(['jobs', 'resume', String(jobId)], as(t));
    assert.equal(resumed.code, 6);
    assert.match(resumed.stderr, /409 invalid_transition/);
  });

  test('import FILE.csv uploads, watches and prints inserted / duplicates / invalid; the same file again is a gate 429 (exit 7)', async () => {
    const t = await createTenant(env);
    const file = path.join(tmp, 'leads.csv');
    await fs.writeFile(file, [
      'phone,name,email,tags',
      '+14155550101,Ann,ann@example.com,vip',
      '+14155550102,Bob,,',
      '+14155550103,Cy,,buyer;hot',
      '+14155550101,Ann again,,',
      'not-a-phone,Bad,,',
    ].join('\n'));
    const first = await withWorker(() => run(['import', file], as(t)));
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^import \d+ \(leads\.csv\) completed: 5 rows — inserted 3, duplicates 1, invalid 1$/m);
    assert.match(first.stdout, /^ {2}row \d+: phone: "not-a-phone" is not a valid phone number$/m);
    assert.match(first.stderr, /uploaded leads\.csv: import \d+, job (\d+)/);
    assert.match(first.stderr, /100% {2}5\/5 .* completed/);
    const jobId = Number(/job (\d+)\n/.exec(first.stderr)?.[1]);
    const { rows } = await env.pool.query('SELECT count(*)::int AS n FROM leads WHERE business_id = $1', [t.businessId]);
    assert.equal(rows[0].n, 3);

    const again = await run(['import', file], as(t));
    assert.equal(again.code, 7, again.stderr);
    assert.match(again.stderr, /refused \(429 duplicate_request\)/);
    assert.match(again.stderr, /retry after: \d+ s/);
    assert.match(again.stderr, new RegExp(`blocking job: ${jobId}\\b`));
  });

  test('admin create-business prints the business id and a token that works', async () => {
    const made = await run(['admin', 'create-business', 'Acme Realty', '--max-calls', '5', '--timezone', 'Asia/Jerusalem'], { ADMIN_TOKEN });
    assert.equal(made.code, 0, made.stderr);
    const id = Number(/business id\s+(\d+)/.exec(made.stdout)?.[1]);
    const token = /token\s+(\S+)/.exec(made.stdout)?.[1] ?? '';
    const { rows } = await env.pool.query('SELECT name, max_outbound_calls, timezone FROM businesses WHERE id = $1', [id]);
    assert.deepEqual(rows[0], { name: 'Acme Realty', max_outbound_calls: 5, timezone: 'Asia/Jerusalem' });
    const listed = await run(['jobs', 'list', '--json'], { BULKHEAD_TOKEN: token });
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(JSON.parse(listed.stdout), []);
  });

  test('jobs list shows the jobs of the caller\'s business, filtered', async () => {
    const t = await createTenant(env);
    const jobId = await bulkDelete(t, await seedLeads(t, 3));
    const table = await run(['jobs', 'list', '--status', 'queued'], as(t));
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ID\s+TYPE\s+STATUS\s+PROGRESS/);
    assert.match(table.stdout, new RegExp(`^${jobId}\\s+delete_leads_bulk\\s+queued\\s+0%\\s+0/3`, 'm'));
    const none = await run(['jobs', 'list', '--status', 'completed', '--json'], as(t));
    assert.deepEqual(JSON.parse(none.stdout), []);
    const cancelled = await run(['jobs', 'cancel', String(jobId)], as(t));
    assert.equal(cancelled.code, 0, cancelled.stderr);
  });

  test('a bad token: 401 exits 5; another business\'s job: 404 exits 6; an unreachable API exits 8', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as net.AddressInfo;
        srv.close(() => resolve(port));
      });
    });
    const owner = await createTenant(env);
    const stranger = await createTenant(env);
    const jobId = await bulkDelete(owner, await seedLeads(owner, 2));
    const [tenant, admin, unreachable, hidden] = await Promise.all([
      run(['jobs', 'list'], { BULKHEAD_TOKEN: 'bh_not-a-real-token' }),
      run(['admin', 'create-business', 'X'], { ADMIN_TOKEN: 'not-the-admin-token-000' }),
      run(['jobs', 'watch', '1', '--url', `http://127.0.0.1:${closedPort}`], { BULKHEAD_TOKEN: 'bh_x' }),
      run(['jobs', 'watch', String(jobId)], as(stranger)),
    ]);
    assert.equal(hidden.code, 6, hidden.stderr);
    assert.match(hidden.stderr, /error \(404 not_found\)/);
    await env.app.inject({ method: 'POST', url: `/api/v1/jobs/${jobId}/cancel`, headers: owner.headers });
    assert.equal(tenant.code, 5, tenant.stderr);
    assert.match(tenant.stderr, /401 unauthorized/);
    assert.equal(admin.code, 5, admin.stderr);
    assert.equal(unreachable.code, 8, unreachable.stderr);
    assert.match(unreachable.stderr, new RegExp(`Cannot reach Bulkhead at http://127\\.0\\.0\\.1:${closedPort}: ECONNREFUSED`));
  });

  test('bad usage exits 2 with a message', async () => {
    const token = { BULKHEAD_TOKEN: 'bh_x' };
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['jobs', 'watch', 'abc'], token, /invalid for argument 'id'\. expected a positive integer/],
      [['jobs', 'frobnicate'], token, /unknown command 'frobnicate'/],
      [['jobs', 'list', '--status', 'sleeping'], token, /Allowed choices are queued, running/],
      [['import', path.join(tmp, 'missing.csv')], token, /Cannot read .*missing\.csv: no such file/],
      [['jobs', 'list'], {}, /No token: pass --token or set BULKHEAD_TOKEN/],
      [['admin', 'create-business'], { ADMIN_TOKEN }, /missing required argument 'name'/],
    ];
    const results = await Promise.all(cases.map(([args, vars]) => run(args, vars)));
    results.forEach((r, i) => {
      const [args, , message] = cases[i] ?? [[], {}, /./];
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
    });
  });

  test('start prints the admin token only when it generated it; a supplied ADMIN_TOKEN stays out of the output and the log', async () => {
    // Its own database: `start` runs a worker, which must not touch this file's jobs.
    const db = await createTestDatabase();
    try {
      const supplied = 'supplied-admin-token-9f8e7d6c5b4a';
      const vars = { DATABASE_URL: db.url, PORT: '0', DEMO: '0', LOG_LEVEL: 'info' };
      const startOnce = async (extra: Record<string, string>): Promise<string> => {
        const c = cli(['start'], { ...vars, ...extra });
        try {
          await c.waitFor(/Bulkhead is ready/, 60_000);
        } finally {
          c.kill('SIGTERM');
          await c.code;
        }
        return c.stdout() + c.stderr();
      };
      const withSupplied = await startOnce({ ADMIN_TOKEN: supplied });
      assert.ok(!withSupplied.includes(supplied), 'the supplied admin token is printed or logged');
      assert.ok(!withSupplied.includes(supplied.slice(4, 20)), 'part of the supplied admin token is printed or logged');
      assert.match(withSupplied, /admin token {7}from ADMIN_TOKEN \(not shown\)/);

      const generated = await startOnce({});
      assert.match(generated, /admin token {7}adm_[A-Za-z0-9_-]{24} {3}\(generated; set ADMIN_TOKEN to keep one\)/);
    } finally {
      await db.drop();
    }
  });

  test('--help on every command shows examples and exits 0', async () => {
    const commands = [[], ['start'], ['jobs', 'list'], ['jobs', 'watch'], ['jobs', 'cancel'], ['import'], ['admin', 'create-business']];
    const results = await Promise.all(commands.map((c) => run([...c, '--help'])));
    results.forEach((r, i) => {
      const name = commands[i]?.join(' ') ?? '';
      assert.equal(r.code, 0, name);
      assert.match(r.stdout, /Examples?:/, name);
    });
    assert.match(results[0]?.stdout ?? '', /Exit codes: 0 ok/);
  });
});
