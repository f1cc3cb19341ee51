/**
 * The paced generator of load.ts on a thread of its own, for a load whose timing must not depend
 * on what the benchmark's main thread does meanwhile: bulk-delete runs the worker and the accept
 * there, and accepting 1,000,000 ids holds that event loop for ~0.3 s, a stall a reader in
 * production (another process) never shares. CPU is still shared, as it is on a real machine.
 */
import { Worker } from 'node:worker_threads';
import type { LoadResult, LoadSpec } from './load.js';

export interface ThreadLoad {
  /** Resolves with the load's result once it has ended (its duration, or stop()). */
  result: Promise<LoadResult>;
  /** Stops sending; requests in flight still count. */
  stop(): void;
}

/** GET only: a body function cannot cross to the thread. */
export function pacedOnThread(spec: Omit<LoadSpec, 'body' | 'signal'>, rate: number): ThreadLoad {
  const file = new URL('./load-thread.worker.ts', import.meta.url).href;
  // tsx does not reach worker threads by itself: the thread registers it, then loads the worker.
  const worker = new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(file)}); })`, {
    eval: true,
    workerData: { spec, rate },
  });
  const result = new Promise<LoadResult>((resolve, reject) => {
    worker.once('message', (r: LoadResult) => resolve(r));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the load thread exited (${code}) without a result`)));
  }).finally(() => void worker.terminate());
  return { result, stop: () => worker.postMessage('stop') };
}
