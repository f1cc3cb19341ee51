/**
 * Test entry point: `tsx test/run.ts [node --test flags] [files…]`.
 *
 * Provides one PostgreSQL for the whole run (DATABASE_URL if set, otherwise one embedded server in
 * a temporary DATA_DIR) and runs the test files through Node's runner, each file in its own process
 * with its own database (test/helpers/db.ts). One server per run, not per file: starting one costs
 * ~1.5 s of initdb; creating a database costs a few milliseconds.
 *
 * The files run as JavaScript compiled once per run into .build/ (test/helpers/js-tree.ts), and so
 * do the processes they start; TEST_COMPILE=0 runs them through tsx instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../src/db/embedded.js';
import { compileJsTree, jsTwin } from './helpers/js-tree.js';
import { dropTemplateDatabase, migratedTemplateDatabase } from './helpers/template.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Durability buys nothing for a throwaway cluster and fsync dominates small-transaction latency.
const FAST_UNSAFE_FLAGS = ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];

const SIGNAL_EXIT_CODES: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143 };

async function main(): Promise<number> {
  const { nodeFlags, files } = await parseArgs(process.argv.slice(2));
  const concurrency = parseConcurrency(process.env.TEST_CONCURRENCY);
  const log = pino({ name: 'test-run', level: process.env.TEST_LOG_LEVEL ?? 'warn' }, pino.destination(2));

  let child: ChildProcess | undefined;
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted ??= signal;
    // The runner is its own process group (detached below), so this reaches every test file and any
    // PostgreSQL a test started; a terminal's Ctrl-C would otherwise only reach our group.
    if (child?.pid !== undefined) {
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  // Everything of this run lives here: the server's DATA_DIR and, as TMPDIR, whatever the test
  // files create, so one removal cleans up even after a test process was killed mid-test.
  const runDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bulkhead-test-'));
  const testTmp = path.join(runDir, 'tmp');
  // mkdtemp makes 0700; tests start their own servers, which run as the postgres OS user.
  await fs.chmod(runDir, 0o711);
  await fs.mkdir(testTmp, { mode: 0o711 });

  let embedded: EmbeddedPostgresHandle | undefined;
  let template: { name: string; serverUrl: string } | undefined;
  let jsDir: string | undefined;
  try {
    let run = { cwd: ROOT, files, nodeArgs: ['--import', 'tsx'] };
    if (process.env.TEST_COMPILE !== '0') {
      jsDir = await freshJsDir();
      const started = performance.now();
      const n = await compileJsTree(ROOT, jsDir);
      process.stderr.write(`test/run.ts: ${n} TypeScript files compiled to ${path.relative(ROOT, jsDir)} (${Math.round(performance.now() - started)} ms)\n`);
      run = { cwd: jsDir, files: files.map((f) => jsTwin(jsDir ?? ROOT, f)), nodeArgs: [] };
    }

    let databaseUrl = process.env.DATABASE_URL;
    if (!databaseUrl) {
      const started = performance.now();
      embedded = await startEmbeddedPostgres({ dataDir: path.join(runDir, 'data'), log, extraFlags: FAST_UNSAFE_FLAGS });
      databaseUrl = embedded.url;
      process.stderr.write(`test/run.ts: embedded PostgreSQL on 127.0.0.1:${embedded.port} (${Math.round(performance.now() - started)} ms)\n`);
    }
    if (interrupted) return SIGNAL_EXIT_CODES[interrupted] ?? 1;
    template = await migratedTemplateDatabase(databaseUrl, log);
    if (interrupted) return SIGNAL_EXIT_CODES[interrupted] ?? 1;

    const runner = spawn(process.execPath, [
      ...run.nodeArgs,
      '--test',
      `--test-concurrency=${concurrency}`,
      // Without it the runner picks TAP when stdout is not a terminal (CI), losing the summary lines.
      '--test-reporter=spec',
      ...nodeFlags,
      ...run.files,
    ], {
      cwd: run.cwd,
      stdio: 'inherit',
      detached: true,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        BULKHEAD_TEST_TEMPLATE: template.name,
        TMPDIR: testTmp,
        // Every process of the run, the test files' children too: stacks name the .ts lines.
        ...(jsDir ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --enable-source-maps`.trim() } : {}),
      },
    });
    child = runner;

    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      runner.once('error', reject);
      runner.once('exit', (c, s) => resolve([c, s]));
    });
    if (interrupted) return SIGNAL_EXIT_CODES[interrupted] ?? 1;
    if (code !== null) return code;
    return (signal && SIGNAL_EXIT_CODES[signal]) ?? 1;
  } finally {
    // On a server of its own (DATABASE_URL) the template would outlive the run.
    if (template && !embedded) await dropTemplateDatabase(template).catch(() => undefined);
    await embedded?.stop();
    // Servers started by killed test files may still be writing while they shut down.
    await fs.rm(runDir, { recursive: true, force: true, maxRetries: 5 });
    if (jsDir) await fs.rm(jsDir, { recursive: true, force: true });
  }
}

/**
 * .build/test-<pid>: this run's compiled tree, inside the project so that packages resolve. Trees
 * of runs whose process is gone (killed before they could clean up) are removed first.
 */
async function freshJsDir(): Promise<string> {
  const parent = path.join(ROOT, '.build');
  await fs.mkdir(parent, { recursive: true });
  for (const entry of await fs.readdir(parent)) {
    const pid = /^test-(\d+)$/.exec(entry)?.[1];
    if (pid !== undefined && !isAlive(Number(pid))) await fs.rm(path.join(parent, entry), { recursive: true, force: true });
  }
  const dir = path.join(parent, `test-${process.pid}`);
  await fs.rm(dir, { recursive: true, force: true });
  return dir;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Arguments starting with `-` go to node (e.g. `--test-name-pattern=claim`); the rest are files. */
async function parseArgs(args: string[]): Promise<{ nodeFlags: string[]; files: string[] }> {
  const nodeFlags = args.filter((a) => a.startsWith('-'));
  const given = args.filter((a) => !a.startsWith('-'));
  if (given.length === 0) return { nodeFlags, files: await findTestFiles(path.join(ROOT, 'test')) };
  const files: string[] = [];
  for (const arg of given) {
    const file = path.resolve(arg);
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat) throw new UsageError(`no such test file or directory: ${arg}`);
    files.push(...(stat.isDirectory() ? await findTestFiles(file) : [path.relative(ROOT, file)]));
  }
  return { nodeFlags, files };
}

/**
 * The files that take longest (15-45 s each, measured on the 2-core CI machine), started first:
 * the runner starts files in the order given, and in alphabetical order the browser tests
 * (test/web) came last, so the run ended with one long file on one core and the other idle.
 * A file missing here only runs later; a stale entry costs nothing.
 */
const SLOW_FIRST = [
  'test/chaos/chaos.test.ts',
  'test/cli/cli.test.ts',
  'test/http/isolation.test.ts',
  'test/jobs/crash.test.ts',
  'test/broadcasts/broadcasts.test.ts',
  'test/web/dashboard.test.ts',
  'test/cli/login.test.ts',
  'test/http/bad-input.test.ts',
  'test/outbound/storm.test.ts',
  'test/channels/whatsapp-channels.test.ts',
  'test/http/hostile-tenant.test.ts',
  'test/outbound/call-flows.test.ts',
  'test/web/people.test.ts',
  'test/web/calls-receipts.test.ts',
];

function slowFirst(files: string[]): string[] {
  const rank = (f: string) => {
    const i = SLOW_FIRST.indexOf(f.split(path.sep).join('/'));
    return i === -1 ? SLOW_FIRST.length : i;
  };
  return [...files].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

async function findTestFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true });
  return slowFirst(entries
    .filter((entry) => entry.endsWith('.test.ts') && !entry.split(path.sep).includes('node_modules'))
    .map((entry) => path.relative(ROOT, path.join(dir, entry))));
}

function parseConcurrency(value: string | undefined): number {
  // Three files at once on the 2-core CI machine: the files wait (timers, simulated calls, child
  // processes starting) as much as they compute, so a third keeps both cores busy. Measured on an
  // AMD EPYC 2-vCPU machine: one whole run 480 s at 2, 352 s at 3 (CPU ~97 % busy; a 4th adds
  // only contention). The two races that 3 exposed are fixed (test/jobs/engine, hot-updates).
  // Compiled (js-tree.ts), on a slower machine of the same kind: 423 s at 3, 450 s at 4 (and
  // timing-sensitive tests failed at 4).
  if (value === undefined || value === '') return 3;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`TEST_CONCURRENCY must be a positive integer, got "${value}"`);
  return n;
}

class UsageError extends Error {}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`test/run.ts: ${err instanceof Error ? (err instanceof UsageError ? err.message : err.stack) : String(err)}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
