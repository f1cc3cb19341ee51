/** The thread of load-thread.ts: one paced load, stopped by a 'stop' message, its result posted back. */
import { parentPort, workerData } from 'node:worker_threads';
import { paced, type LoadSpec } from './load.js';

const { spec, rate } = workerData as { spec: LoadSpec; rate: number };
const stop = new AbortController();
parentPort?.on('message', (m) => {
  if (m === 'stop') stop.abort();
});
const result = await paced({ ...spec, signal: stop.signal }, rate);
parentPort?.postMessage(result);
