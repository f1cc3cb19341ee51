/**
 * The chaos and load suite: `npm run chaos [-- --quick] [mixed|kill|pg-restart|faults|soak]…`.
 *
 * Starts its own deployment (chaos/lib/cluster.ts: PostgreSQL, a shared simulator process,
 * 3 `bulkhead api` + 3 `bulkhead worker` processes), runs the scenarios one after the other on
 * it while checking the invariants, prints the table and writes docs/RELIABILITY.md.
 * Not part of `npm test`; test/chaos/chaos.test.ts runs the same scenarios with tiny sizes.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CHAOS_ENV, SIZES, type Sizes } from './config.js';
import { Cluster, ROOT } from './lib/cluster.js';
import { renderConsole, renderDoc } from './lib/report.js';
import { killWorkers, mixedLoad, providerFaults, restartPostgres, soak, type Ctx, type ScenarioResult } from './scenarios.js';

const NAMES = ['mixed', 'kill', 'pg-restart', 'faults', 'soak'] as const;
type Name = (typeof NAMES)[number];

function run(name: Name, ctx: Ctx, sizes: Sizes): Promise<ScenarioResult> {
  switch (name) {
    case 'mixed': return mixedLoad(ctx, sizes.mixed);
    case 'kill': return killWorkers(ctx, sizes.kill);
    case 'pg-restart': return restartPostgres(ctx, sizes.restart);
    case 'faults': return providerFaults(ctx, sizes.faults);
    case 'soak': return soak(ctx, sizes.soak);
  }
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const bad = args.filter((a) => a.startsWith('-') && a !== '--quick' && a !== '--no-doc');
  const names = args.filter((a) => !a.startsWith('-'));
  const unknown = names.filter((n) => !(NAMES as readonly string[]).includes(n));
  if (bad.length > 0 || unknown.length > 0) {
    console.error(`usage: npm run chaos -- [--quick] [${NAMES.join('|')}]…`);
    return 2;
  }
  const selected: Name[] = names.length > 0 ? (names as Name[]) : [...NAMES];
  const sizes = quick ? SIZES.quick : SIZES.full;
  const t0 = performance.now();
  const progress = (m: string) => process.stderr.write(`[chaos ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${m}\n`);
  const loadBefore = os.loadavg();
  const cluster = await Cluster.start({ apis: 3, workers: 3, env: CHAOS_ENV, embedded: selected.includes('pg-restart') ? true : undefined, progress });
  const results: ScenarioResult[] = [];
  let failed = false;
  try {
    for (const name of selected) {
      try {
        const r = await run(name, { cluster, progress }, sizes);
        results.push(r);
        console.log(renderConsole(r));
        if (r.checks.some((c) => !c.pass)) failed = true;
      } catch (err) {
        failed = true;
        progress(`${name} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        results.push({ name, title: 'crashed', seconds: 0, figures: [['error', String(err)]], checks: [{ check: 'scenario ran to the end', target: 'yes', measured: 'no', pass: false }] });
      }
    }
  } finally {
    await cluster.stop();
  }
  const command = `npm run chaos${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
  const doc = renderDoc(results, {
    command,
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    quick,
    env: CHAOS_ENV,
    loadBefore: loadBefore[0] ?? 0,
    loadAfter: os.loadavg()[0] ?? 0,
    seconds: (performance.now() - t0) / 1000,
  });
  if (!args.includes('--no-doc')) {
    const file = path.join(ROOT, 'docs', 'RELIABILITY.md');
    await fs.writeFile(file, doc);
    progress(`wrote ${path.relative(ROOT, file)}`);
  }
  progress(failed ? 'SOME CHECKS FAILED' : 'every check passed');
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
