import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_ENV } from './harness.js';
import { nodeEntry } from './node-entry.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Worker settings under which a killed worker's jobs are taken over in ~1.5 s instead of the
 * default ~10 s (heartbeat 2 s, stale after 10 s). For tests whose subject is what happens after
 * the takeover, not its timing (test/jobs/crash.test.ts keeps one test on the defaults).
 */
export const FAST_TAKEOVER = { WORKER_HEARTBEAT_MS: '200', WORKER_STALE_MS: '1500' } as const;

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** The worker id it printed as {"ready": id} (empty for other processes). */
  id: string;
  lines: string[];
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Spawns `node <script>` (test/helpers/node-entry.ts) with the test engine settings plus `env`, and resolves
 * once the child prints its {"ready": …} line (or `readyPattern` matches a line).
 */
export async function spawnTs(script: string, env: Record<string, string>, args: string[] = [], readyPattern = /"ready":/): Promise<Child> {
  const proc = spawn(process.execPath, [...nodeEntry(path.join(ROOT, script)), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...TEST_ENV, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  let id = '';
  await new Promise<void>((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        lines.push(line);
        if (readyPattern.test(line)) {
          const m = /"ready":"([^"]+)"/.exec(line);
          id = m?.[1] ?? '';
          resolve();
        }
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', (c: Buffer) => lines.push(c.toString('utf8')));
    void exited.then((code) => reject(new Error(`${script} exited (${code}) before ready:\n${lines.join('\n')}`)));
  });
  return {
    proc,
    pid: proc.pid ?? 0,
    id,
    lines,
    exited,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      proc.kill(signal);
    },
  };
}

export function spawnProbeWorker(databaseUrl: string, env: Record<string, string> = {}): Promise<Child> {
  return spawnTs('test/fixtures/probe-worker.ts', { DATABASE_URL: databaseUrl, ...env });
}
