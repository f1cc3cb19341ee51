import type { DomainModule, ModuleDeps, ModuleRoles } from '../app/module.js';
import { HandlerRegistry } from '../jobs/registry.js';
import { Worker } from '../jobs/worker.js';
import { transcriptionFromConfig } from '../providers/transcription/index.js';
import type { TranscriptionSimulator } from '../providers/transcription/simulator.js';
import type { RecordingsCache } from '../recordings/cache.js';
import { transcribeBulkJob } from './transcribe-bulk.job.js';
import { ProviderThrottle, transcribeJob } from './transcribe.job.js';
import { transcriptRoutes } from './transcripts.routes.js';

export interface TranscriptsModule extends DomainModule {
  /** The in-process provider simulator (no TRANSCRIBE_API_KEY); tests inject faults through it. */
  simulator: TranscriptionSimulator | null;
  /** This process's worker for the `transcripts` queue, once started (worker role). */
  worker(): Worker | null;
}

export function isTranscriptsModule(m: DomainModule): m is TranscriptsModule {
  return m.name === 'transcripts';
}

/**
 * Transcripts: the transcribe jobs, the transcript and bulk routes, and a worker of its own for
 * the `transcripts` queue (TRANSCRIBE_CONCURRENCY slots). Why a worker of its own and not the
 * shared one with a low priority: priority orders claims but cannot free a slot, so a backlog of
 * transcriptions (each seconds long at a real provider) would hold every slot of the shared
 * worker and a play's download would wait for one to finish. The shared worker never lists
 * `transcripts` in WORKER_QUEUES; this one lists only it.
 */
export function createTranscriptsModule(deps: ModuleDeps, own: { cache: RecordingsCache }): TranscriptsModule {
  const { config } = deps;
  const { provider, simulator } = transcriptionFromConfig(config.transcription);
  const jobs = [
    transcribeJob({
      pool: deps.pool,
      cache: own.cache,
      provider,
      maxConsecutiveFailures: config.worker.maxConsecutiveFailures,
      throttle: new ProviderThrottle(),
    }),
    transcribeBulkJob,
  ];
  let worker: Worker | null = null;
  let started = false;
  return {
    name: 'transcripts',
    simulator,
    jobs,
    routes: transcriptRoutes(deps.pool, deps.accept),
    worker: () => worker,
    async start(roles: ModuleRoles) {
      if (!roles.worker || started) return;
      started = true;
      await simulator?.start();
      if (config.transcription.concurrency === 0 || config.worker.queues.includes('transcripts')) return;
      const w = new Worker({
        pool: deps.pool,
        databaseUrl: deps.databaseUrl,
        registry: new HandlerRegistry().register(...jobs),
        config: { ...config.worker, queues: ['transcripts'], concurrency: config.transcription.concurrency },
        log: deps.log.child({ part: 'transcripts-worker' }),
      });
      await w.start();
      worker = w;
    },
    async stop(opts) {
      const w = worker;
      worker = null;
      await w?.stop(opts);
      await simulator?.stop();
    },
  };
}
