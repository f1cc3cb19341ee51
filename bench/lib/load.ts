/**
 * HTTP load for the gate scenario: autocannon (closed loop, and its `overallRate` mode) and a
 * paced open-loop generator. autocannon's rate mode gives each connection a quota per one-second
 * window, released when the window opens; its windows are aligned, so 200 connections send the
 * whole second's requests in a burst at the start of it. The paced generator sends request i at
 * t0 + i / rate instead, and measures latency from that scheduled time (so a late send counts).
 */
import autocannon, { type Result } from 'autocannon';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LoadResult {
  rps: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  total: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statuses: Record<string, number>;
}

export interface LoadSpec {
  base: string;
  /** One per connection: connection i authenticates as tokens[i]. */
  tokens: string[];
  path: string;
  /** A body per request (POST), or none (GET). */
  body?: () => string;
  durationS: number;
  /** paced only: stop sending when aborted (requests in flight still count), even before durationS. */
  signal?: AbortSignal;
}

export async function closedLoop(spec: LoadSpec, overallRate?: number): Promise<LoadResult> {
  let nextToken = 0;
  const { body } = spec;
  const result = await autocannon({
    url: spec.base,
    connections: spec.tokens.length,
    duration: spec.durationS,
    timeout: 30,
    ...(overallRate ? { overallRate } : {}),
    setupClient(client) {
      const token = spec.tokens[nextToken++ % spec.tokens.length] ?? '';
      client.setHeaders({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
    },
    requests: [body
      ? { method: 'POST', path: spec.path, setupRequest: (request) => ({ ...request, body: body() }) }
      : { method: 'GET', path: spec.path }],
  });
  return fromAutocannon(result);
}

function fromAutocannon(r: Result): LoadResult {
  return {
    rps: r.requests.average,
    mean: r.latency.mean,
    p50: r.latency.p50,
    p90: r.latency.p90,
    p99: r.latency.p99,
    max: r.latency.max,
    total: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statuses: Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count])),
  };
}

/** Requests evenly spaced at `rate` per second over one keep-alive connection per token. */
export async function paced(spec: LoadSpec, rate: number): Promise<LoadResult> {
  const url = new URL(spec.path, spec.base);
  const agents = spec.tokens.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const count = Math.round(rate * spec.durationS);
  const t0 = performance.now() + 20;
  const sent: Promise<void>[] = [];
  try {
    for (let i = 0; i < count && !spec.signal?.aborted; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait >= 1) await sleep(wait);
      if (spec.signal?.aborted) break;
      const connection = i % agents.length;
      // From the scheduled time when the send is late (queueing counts), from the send when a timer fired early.
      const start = Math.min(due, performance.now());
      sent.push(send(url, agents[connection], spec.tokens[connection] ?? '', spec.body?.()).then(
        (status) => {
          latencies.push(performance.now() - start);
          statuses[status] = (statuses[status] ?? 0) + 1;
        },
        () => {
          errors++;
        },
      ));
    }
    await Promise.all(sent);
  } finally {
    for (const agent of agents) agent.destroy();
  }
  const elapsed = performance.now() - t0;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => round1(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0);
  return {
    rps: (latencies.length * 1000) / elapsed,
    mean: latencies.reduce((sum, x) => sum + x, 0) / Math.max(1, latencies.length),
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: round1(latencies.at(-1) ?? 0),
    total: latencies.length,
    non2xx: Object.entries(statuses).filter(([code]) => !code.startsWith('2')).reduce((sum, [, n]) => sum + n, 0),
    errors,
    timeouts: 0,
    statuses,
  };
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function send(url: URL, agent: http.Agent | undefined, token: string, body: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      agent,
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      timeout: 30_000,
    }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}
