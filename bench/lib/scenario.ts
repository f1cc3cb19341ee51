import type { ScenarioReport } from './report.js';
import type { BenchServer } from './server.js';

export interface ScenarioContext {
  server: BenchServer;
  /** Smaller sizes, for trying the benchmarks out. */
  quick: boolean;
  progress(message: string): void;
}

export interface Scenario {
  name: string;
  run(ctx: ScenarioContext): Promise<ScenarioReport>;
}
