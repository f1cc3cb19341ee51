/**
 * The text guard's cost (src/http/text-guard.ts): walking a parsed body for text PostgreSQL
 * cannot store, against JSON.parse of the same body measured in the same run (the guard runs
 * after it, on every body that holds an escape that could be such text).
 *
 *   npx tsx bench/text-guard.ts [--runs 15]
 *
 * A broadcast's 100 000 recipients (phone and name, an emoji in each name), and an 8 MB CSV
 * string; the best of `runs` runs each. Prints one line per measure; the figures and their
 * command are quoted in docs/BENCHMARKS.md.
 */
import os from 'node:os';
import { findUnstorableText } from '../src/http/text-guard.js';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg === -1 ? 15 : Number(process.argv[runsArg + 1]);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error('--runs must be a positive integer');

function best(work: () => unknown): number {
  let min = Infinity;
  for (let i = 0; i < RUNS; i += 1) {
    const start = performance.now();
    work();
    min = Math.min(min, performance.now() - start);
  }
  return min;
}

const text = JSON.stringify({ text: 'hello', recipients: Array.from({ length: 100_000 }, (_, i) => ({ phone: `+1212555${String(i).padStart(4, '0')}`, name: `Lead ${i} 💥` })) });
const body: unknown = JSON.parse(text);
const csv = 'phone,name\n+12125550100,Ann\n'.repeat(300_000);
const clean = (v: unknown) => {
  if (findUnstorableText(v, 'body') !== null) throw new Error('the clean input was refused');
};

const parseMs = best(() => JSON.parse(text));
const walkMs = best(() => clean(body));
const stringMs = best(() => clean(csv));
console.log(`100 000 recipients (${(text.length / 1e6).toFixed(1)} MB of JSON): guard ${walkMs.toFixed(1)} ms, JSON.parse ${parseMs.toFixed(1)} ms (guard/parse ${(walkMs / parseMs).toFixed(2)}×)`);
console.log(`an 8 MB string (${(csv.length / 1e6).toFixed(1)} M characters): guard ${stringMs.toFixed(1)} ms`);
console.log(`best of ${RUNS} runs each; ${os.cpus().length} cores, Node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
