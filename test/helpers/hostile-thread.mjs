/**
 * The worker thread of startHostileLoad (hostile.ts): builds B's requests and loops until told to
 * stop. Plain JavaScript that loads the TypeScript through tsx's API: a worker thread does not
 * inherit the `--import tsx` loader of the test process on Node 20. In the tree test/run.ts
 * compiles, hostile.js is beside it and is imported as it is.
 */
import { existsSync } from 'node:fs';
import { URL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const compiled = new URL('./hostile.js', import.meta.url);
const { hostileRequests, runHostileLoad } = existsSync(compiled)
  ? await import(compiled.href)
  : await (await import('tsx/esm/api')).tsImport('./hostile.ts', import.meta.url);
const { baseUrl, token, scale, connections } = workerData;
let stopped = false;
parentPort.once('message', () => {
  stopped = true;
});
const requests = hostileRequests(scale);
parentPort.postMessage('ready');
parentPort.postMessage(await runHostileLoad(baseUrl, token, requests, connections, () => stopped));
