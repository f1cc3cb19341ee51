import type { DomainModule, ModuleDeps } from '../app/module.js';
import type { TelephonyProvider } from '../providers/telephony/types.js';
import { downloadJob } from './download.job.js';
import { recordingRoutes } from './recordings.routes.js';

export interface RecordingsModuleDeps {
  /** The telephony provider recordings are fetched from (the outbound module's, once started). */
  telephony: () => TelephonyProvider;
}

/** Call recordings: the play endpoint, its cache under DATA_DIR and the high-priority download job. */
export function createRecordingsModule(deps: ModuleDeps, own: RecordingsModuleDeps): DomainModule {
  return {
    name: 'recordings',
    jobs: [downloadJob({ dataDir: deps.config.dataDir, provider: own.telephony })],
    routes: recordingRoutes({ pool: deps.pool, accept: deps.accept, dataDir: deps.config.dataDir }),
  };
}
