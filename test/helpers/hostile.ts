/**
 * A hostile tenant, as issue 12 measured it: business B sends the most expensive requests the API
 * refuses anyway, from several connections, while business A's `GET /leads` latency is measured
 * in the same run. Shared by the short test (test/http/hostile-tenant.test.ts) and the benchmark
 * (bench/hostile-tenant.ts); the API is a real `bulkhead api` child process, so the load
 * generator's own work never runs on the event loop being measured.
 */
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { spawnTs, type Child } from './processes.js';
import { ADMIN_TOKEN } from './harness.js';

export interface HostileApi {
  child: Child;
  baseUrl: string;
  stop(): Promise<void>;
}

/** `bulkhead api` on a free port of 127.0.0.1 (the database must be migrated or migratable). */
export async function startApiChild(databaseUrl: string, env: Record<string, string> = {}): Promise<HostileApi> {
  const child = await spawnTs('src/cli/main.ts', { DATABASE_URL: databaseUrl, ...env }, ['api'], /API listening/);
  const line = child.lines.find((l) => l.includes('API listening')) ?? '';
  const url = /"url":"([^"]+)"/.exec(line)?.[1];
  if (!url) throw new Error(`no url in: ${line}`);
  return {
    child,
    baseUrl: url,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await child.exited;
      clearTimeout(timer);
    },
  };
}

/** CPU time (user + system) a process has used so far, in ms (Linux /proc; 10 ms resolution). */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces, so split after its closing paren).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export interface Business {
  id: number;
  token: string;
}

export async function createBusiness(baseUrl: string, name: string): Promise<Business> {
  const res = await fetch(`${baseUrl}/api/v1/admin/businesses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (res.status !== 201) throw new Error(`create business: ${res.status} ${await res.text()}`);
  const json = (await res.json()) as { business: { id: number }; token: string };
  return { id: json.business.id, token: json.token };
}

export interface HostileRequest {
  name: string;
  path: string;
  contentType: string;
  body: Uint8Array<ArrayBuffer>;
}

/**
 * The refused requests of issue 12, point 1: 100 000 invalid phones in a broadcast (2.7 MB), a
 * body nested 8 million levels deep (16 MB), an object with a million keys, four million nulls in
 * `lead_ids`. `scale` (0..1] shrinks them for a short run.
 */
export function hostileRequests(scale = 1): HostileRequest[] {
  const n = (full: number) => Math.max(1, Math.round(full * scale));
  const json = (name: string, path: string, text: string): HostileRequest => ({ name, path, contentType: 'application/json', body: new TextEncoder().encode(text) });
  const phones = Array.from({ length: n(100_000) }, (_, i) => ({ phone: `not-a-phone-${i}` }));
  const depth = n(8_000_000);
  const keys: string[] = [];
  for (let i = 0; i < n(1_000_000); i += 1) keys.push(`"k${i}":0`);
  return [
    json('broadcast of invalid phones', '/api/v1/whatsapp/broadcasts', JSON.stringify({ text: 'hi', recipients: phones })),
    json('nested body', '/api/v1/leads/import', '['.repeat(depth) + ']'.repeat(depth)),
    json('object of many keys', '/api/v1/leads/import', `{${keys.join(',')}}`),
    json('nulls in lead_ids', '/api/v1/leads/bulk-delete', `{"lead_ids":[${'null,'.repeat(n(4_000_000) - 1)}null]}`),
  ];
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
}

function summarize(samples: number[], errors: number): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  return { count: sorted.length, p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? NaN, errors };
}

/**
 * A's `GET /leads?limit=20` every `everyMs` (a dashboard's pace, well inside A's own request
 * budget), one at a time, for `durationMs`.
 */
export async function measureReads(baseUrl: string, token: string, durationMs: number, everyMs = 25): Promise<LatencySummary> {
  const samples: number[] = [];
  let errors = 0;
  const until = performance.now() + durationMs;
  while (performance.now() < until) {
    const t0 = performance.now();
    const res = await fetch(`${baseUrl}/api/v1/leads?limit=20`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    const took = performance.now() - t0;
    samples.push(took);
    if (res.status !== 200) errors += 1;
    if (took < everyMs) await new Promise((resolve) => setTimeout(resolve, everyMs - took));
  }
  return summarize(samples, errors);
}

export interface HostileLoad {
  /** Status codes B received, by request name (filled when stopped). */
  statuses: Map<string, Map<number, number>>;
  stop(): Promise<void>;
}

/**
 * `connections` loops, each sending B's requests round robin until stopped, in a worker thread:
 * uploading megabytes per request costs the sender CPU, which must not be charged to A's
 * latency, measured on this thread.
 */
export async function startHostileLoad(baseUrl: string, token: string, opts: { scale?: number; connections: number }): Promise<HostileLoad> {
  const thread = new Worker(new URL('./hostile-thread.mjs', import.meta.url), {
    workerData: { baseUrl, token, scale: opts.scale ?? 1, connections: opts.connections },
  });
  await new Promise<void>((resolve, reject) => {
    thread.once('message', () => resolve());
    thread.once('error', reject);
  });
  const statuses = new Map<string, Map<number, number>>();
  return {
    statuses,
    async stop() {
      const done = new Promise<Record<string, Record<string, number>>>((resolve, reject) => {
        thread.once('message', resolve);
        thread.once('error', reject);
      });
      thread.postMessage('stop');
      for (const [name, byStatus] of Object.entries(await done)) {
        statuses.set(name, new Map(Object.entries(byStatus).map(([s, n]) => [Number(s), n])));
      }
      await thread.terminate();
    },
  };
}

/** The thread's side: started by startHostileLoad. */
export async function runHostileLoad(baseUrl: string, token: string, requests: HostileRequest[], connections: number, stopped: () => boolean): Promise<Record<string, Record<string, number>>> {
  const statuses: Record<string, Record<string, number>> = {};
  const loop = async (offset: number) => {
    for (let i = offset; !stopped(); i += 1) {
      const r = requests[i % requests.length] as HostileRequest;
      let status = 0;
      try {
        const res = await fetch(`${baseUrl}${r.path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': r.contentType },
          body: r.body,
        });
        await res.arrayBuffer();
        status = res.status;
      } catch {
        status = -1; // the server closed the connection (as it may after refusing a body it did not read)
      }
      const byStatus = (statuses[r.name] ??= {});
      byStatus[status] = (byStatus[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, i) => loop(i)));
  return statuses;
}
