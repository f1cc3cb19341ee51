/**
 * The worker thread of startHostileLoad (hostile.ts): builds B's requests and loops until told to
 * stop. Plain JavaScript that loads the TypeScript through tsx's API: a worker thread does not
 * inherit the `--import tsx` loader of the test process on Node 20.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { tsImport } from 'tsx/esm/api';

const { hostileRequests, runHostileLoad } = await tsImport('./hostile.ts', import.meta.url);
const { baseUrl, token, scale, connections } = workerData;
let stopped = false;
parentPort.once('message', () => {
  stopped = true;
});
const requests = hostileRequests(scale);
parentPort.postMessage('ready');
parentPort.postMessage(await runHostileLoad(baseUrl, token, requests, connections, () => stopped));
