import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError, isTerminal, UnreachableError, type ApiClient, type Job } from '../api-client.js';

export interface WatchOptions {
  onJob(job: Job): void;
  signal?: AbortSignal;
  /** Consecutive failed reconnects before giving up (the API restarting takes a few). */
  maxReconnects?: number;
  reconnectDelayMs?: number;
}

/**
 * Follows GET /jobs/{id}/events until the job is terminal and returns it. The server closes the
 * stream after a terminal status; a stream that ends earlier (an API restart, a proxy timeout)
 * is re-opened, so a long job outlives its connection (an API restart, say). Auth and not-found
 * errors, and a first connection that fails, are not retried.
 */
export async function watchJob(client: ApiClient, jobId: number, opts: WatchOptions): Promise<Job> {
  const maxReconnects = opts.maxReconnects ?? 10;
  let failures = 0;
  // Reconnect only a stream that worked once: a wrong URL or a stopped API fails at once.
  let connected = false;
  for (;;) {
    try {
      for await (const ev of client.events(`/api/v1/jobs/${jobId}/events`, opts.signal)) {
        if (ev.event !== 'progress') continue;
        const job = JSON.parse(ev.data) as Job;
        connected = true;
        failures = 0;
        opts.onJob(job);
        if (isTerminal(job.status)) return job;
      }
      if (opts.signal?.aborted) throw opts.signal.reason;
      // The stream ended without a terminal status: ask once, then re-open it.
      const job = await client.request<Job>('GET', `/api/v1/jobs/${jobId}`, { signal: opts.signal });
      if (isTerminal(job.status)) {
        opts.onJob(job);
        return job;
      }
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      const retryable = err instanceof UnreachableError || (err instanceof ApiError && err.status >= 500);
      if (!connected || !retryable || ++failures > maxReconnects) throw err;
    }
    await sleep(opts.reconnectDelayMs ?? 1000, undefined, { signal: opts.signal });
  }
}
