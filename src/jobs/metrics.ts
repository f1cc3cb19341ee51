import client from 'prom-client';

export interface JobMetrics {
  batchSeconds: client.Histogram<'type' | 'outcome'>;
  jobsFinished: client.Counter<'type' | 'status'>;
}

export function createJobMetrics(registry: client.Registry): JobMetrics {
  return {
    batchSeconds: new client.Histogram({
      name: 'bulkhead_batch_duration_seconds',
      help: 'Duration of one job batch (fence, handler, progress commit).',
      labelNames: ['type', 'outcome'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    jobsFinished: new client.Counter({
      name: 'bulkhead_jobs_finished_total',
      help: 'Jobs that reached a terminal status in this process.',
      labelNames: ['type', 'status'],
      registers: [registry],
    }),
  };
}
