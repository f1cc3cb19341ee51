/**
 * Real service processes for the scenarios that must not share the benchmark's event loop or
 * heap: `node --import tsx src/cli/main.ts <command>`, exactly as an operator starts them (from
 * the compiled tree of a test run, its JavaScript: test/helpers/node-entry.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeEntry } from '../../test/helpers/node-entry.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = path.join(ROOT, 'src', 'cli', 'main.ts');

export interface ServiceProcess {
  pid: number;
  /** Every stdout/stderr line so far (for errors). */
  lines: string[];
  /** Resolves with the first line matching `pattern`; rejects if the process exits first. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export function spawnService(command: 'api' | 'worker', env: Record<string, string>): ServiceProcess {
  // BENCH_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof': node flags for every service process (profiles).
  const nodeArgs = (env.BENCH_NODE_ARGS ?? process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...nodeEntry(MAIN), command], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn ${command}`);
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let buffer = '';
    stream?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (lines.length < 2_000) lines.push(line);
        for (const listener of listeners) listener(line);
      }
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  let stopping: Promise<void> | undefined;
  return {
    pid,
    lines,
    waitForLine(pattern, timeoutMs = 60_000) {
      const seen = lines.find((l) => pattern.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const done = () => {
          listeners.delete(onLine);
          clearTimeout(timer);
        };
        const onLine = (line: string) => {
          if (!pattern.test(line)) return;
          done();
          resolve(line);
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${command} printed no line matching ${pattern} within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`));
        }, timeoutMs);
        listeners.add(onLine);
        void exited.then(() => {
          done();
          reject(new Error(`${command} exited before printing ${pattern}:\n${lines.slice(-20).join('\n')}`));
        });
      });
    },
    stop(graceMs = 15_000) {
      return (stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      })());
    },
  };
}

/** A `bulkhead api` process listening on a free port, and its URL (from its "API listening" log line). */
export async function spawnApi(env: Record<string, string>): Promise<{ process: ServiceProcess; base: string }> {
  const api = spawnService('api', { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env });
  try {
    const listening = await api.waitForLine(/"API listening"/);
    const base = /"url":"([^"]+)"/.exec(listening)?.[1]?.replace('localhost', '127.0.0.1');
    if (!base) throw new Error(`no url in ${listening}`);
    return { process: api, base };
  } catch (err) {
    await api.stop();
    throw err;
  }
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status), or null once it is gone. */
export async function readRss(pid: number): Promise<number | null> {
  try {
    const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}

/** Samples a process's RSS every `everyMs` until stopped. */
export class RssSampler {
  readonly samples: Array<{ atMs: number; bytes: number }> = [];
  #timer: NodeJS.Timeout | null = null;
  readonly #t0 = performance.now();

  constructor(private readonly pid: number, private readonly everyMs = 200) {}

  start(): this {
    const tick = async () => {
      const bytes = await readRss(this.pid);
      if (bytes !== null) this.samples.push({ atMs: performance.now() - this.#t0, bytes });
    };
    void tick();
    this.#timer = setInterval(() => void tick(), this.everyMs);
    return this;
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Largest sample taken at or after `fromMs` (sampler clock). */
  maxSince(fromMs = 0): number {
    return this.samples.filter((s) => s.atMs >= fromMs).reduce((max, s) => Math.max(max, s.bytes), 0);
  }

  last(): number {
    return this.samples.at(-1)?.bytes ?? 0;
  }

  get elapsedMs(): number {
    return performance.now() - this.#t0;
  }
}

