/**
 * Benchmark entry point: `npm run bench [-- [--quick] [scenario…]]`.
 *
 * One PostgreSQL for the whole run (DATABASE_URL, or one embedded server in a temporary
 * DATA_DIR), each scenario in its own fresh database on it. Results are printed, merged into
 * bench/results.json (the last result of every scenario) and rendered to docs/BENCHMARKS.md.
 * Benchmarks are scripts, never tests: `npm test` does not run them.
 */
import os from 'node:os';
import { bulkDeleteScenario } from './bulk-delete.js';
import { engineScenario } from './engine.js';
import { gateHttpScenario } from './gate-http.js';
import { hostileTenantScenario } from './hostile-tenant.js';
import { DOC_PATH, describeEnvironment, loadResults, renderConsole, saveResults, writeDoc, type ScenarioResult } from './lib/report.js';
import type { Scenario } from './lib/scenario.js';
import { startBenchServer } from './lib/server.js';
import { seconds, since } from './lib/timing.js';
import { workerRssScenario } from './worker-rss.js';

const SCENARIOS: Scenario[] = [engineScenario, bulkDeleteScenario, gateHttpScenario, workerRssScenario, hostileTenantScenario];

class UsageError extends Error {}

function parseArgs(args: string[]): { quick: boolean; selected: Scenario[] } {
  const quick = args.includes('--quick');
  const names = args.filter((a) => !a.startsWith('-'));
  const unknownFlag = args.find((a) => a.startsWith('-') && a !== '--quick');
  if (unknownFlag) throw new UsageError(`unknown flag ${unknownFlag}; usage: npm run bench -- [--quick] [${SCENARIOS.map((s) => s.name).join('|')}]…`);
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) throw new UsageError(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return { quick, selected: names.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => names.includes(s.name)) };
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const { quick, selected } = parseArgs(args);
  const command = `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`;
  const started = performance.now();
  const progress = (message: string) => process.stderr.write(`[bench ${seconds(since(started)).padStart(8)}] ${message}\n`);

  const server = await startBenchServer();
  progress(`PostgreSQL ${server.version} (${server.kind})`);
  const environment = describeEnvironment(server);
  const fresh: ScenarioResult[] = [];
  let failed = false;
  try {
    for (const scenario of selected) {
      try {
        const loadBefore = os.loadavg()[0] ?? 0;
        const report = await scenario.run({ server, quick, progress });
        const result: ScenarioResult = {
          name: scenario.name,
          command,
          date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
          quick,
          environment,
          load: { before: loadBefore, after: os.loadavg()[0] ?? 0 },
          ...report,
        };
        fresh.push(result);
        console.log(renderConsole(result));
      } catch (err) {
        failed = true;
        progress(`${scenario.name} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    }
  } finally {
    await server.stop();
  }

  if (fresh.length > 0) {
    const merged = await loadResults();
    for (const r of fresh) merged.set(r.name, r);
    const ordered = SCENARIOS.map((s) => merged.get(s.name)).filter((r): r is ScenarioResult => r !== undefined);
    await saveResults(ordered);
    await writeDoc(ordered, SCENARIOS.map((s) => s.name));
    progress(`wrote ${DOC_PATH} (${fresh.map((r) => r.name).join(', ')} refreshed) in ${seconds(since(started))}`);
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench/run.ts: ${err instanceof UsageError ? err.message : err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
