import client from 'prom-client';
import type pg from 'pg';
import { dueJobsByQueue, jobCountsByTypeAndStatus } from '../jobs/domain-api.js';
import { createJobMetrics, type JobMetrics } from '../jobs/metrics.js';

export interface AppMetrics {
  registry: client.Registry;
  gateRefusals: client.Counter<'code' | 'operation'>;
  jobs: JobMetrics;
}

/**
 * Counters of this process plus gauges read from PostgreSQL at scrape time (jobs by type and
 * status, queue depth), so every API process reports the same cluster-wide truth.
 */
export function createAppMetrics(pool: pg.Pool): AppMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const gateRefusals = new client.Counter({
    name: 'bulkhead_gate_refusals_total',
    help: 'Requests refused by the bulk gate, by rule.',
    labelNames: ['code', 'operation'],
    registers: [registry],
  });
  new client.Gauge({
    name: 'bulkhead_jobs',
    help: 'Jobs by type and status (whole cluster).',
    labelNames: ['type', 'status'],
    registers: [registry],
    async collect() {
      const rows = await jobCountsByTypeAndStatus(pool);
      this.reset();
      for (const r of rows) this.set({ type: r.type, status: r.status }, r.n);
    },
  });
  new client.Gauge({
    name: 'bulkhead_queue_depth',
    help: 'Queued jobs that are due, by queue (whole cluster).',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      const rows = await dueJobsByQueue(pool);
      this.reset();
      for (const r of rows) this.set({ queue: r.queue }, r.n);
    },
  });
  new client.Gauge({
    name: 'bulkhead_workers_alive',
    help: 'Worker processes that heartbeated in the last 10 s.',
    registers: [registry],
    async collect() {
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM workers WHERE stopped_at IS NULL AND heartbeat_at > now() - interval '10 seconds'`,
      );
      this.set(rows[0]?.n ?? 0);
    },
  });
  return { registry, gateRefusals, jobs: createJobMetrics(registry) };
}
