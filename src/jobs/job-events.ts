import { EventEmitter } from 'node:events';
import type { Logger } from '../lib/logger.js';
import { PgListener } from './listener.js';

export interface JobChange {
  businessId: number;
  jobId: number;
  status: string;
}

/**
 * Fans NOTIFY 'bulkhead_job' out to in-process subscribers, so any API process can serve the
 * SSE stream of any job, whichever worker runs it.
 */
export class JobEvents {
  readonly #emitter = new EventEmitter();
  readonly #listener: PgListener;

  constructor(url: string, log: Logger) {
    this.#emitter.setMaxListeners(0);
    this.#listener = new PgListener({
      url,
      channels: ['bulkhead_job'],
      log,
      // One notification per statement: `business:job:status` entries, comma-separated (migration 018).
      onNotify: (_c, payload) => {
        for (const entry of payload.split(',')) {
          const [b, j, status] = entry.split(':');
          const change = { businessId: Number(b), jobId: Number(j), status: status ?? '' };
          this.#emitter.emit(`job:${change.jobId}`, change);
        }
      },
      // After a reconnect every subscriber re-reads its job: a change may have been missed.
      onReconnect: () => this.#emitter.emit('reconnect'),
    });
  }

  start(): Promise<void> {
    return this.#listener.start();
  }

  /** Calls fn on every change of the job (and after a listener reconnect); returns unsubscribe. */
  subscribe(jobId: number, fn: () => void): () => void {
    this.#emitter.on(`job:${jobId}`, fn);
    this.#emitter.on('reconnect', fn);
    return () => {
      this.#emitter.off(`job:${jobId}`, fn);
      this.#emitter.off('reconnect', fn);
    };
  }

  stop(): Promise<void> {
    return this.#listener.stop();
  }
}
