import type { DomainModule, ModuleDeps } from '../app/module.js';
import type { TelephonyProvider } from '../providers/telephony/types.js';
import { downloadJob } from './download.job.js';
import { recordingRoutes } from './recordings.routes.js';

export interface RecordingsModuleDeps {
  /**
   * The telephony provider a call's recording is fetched from: the account the call was placed
   * through (the outbound module's accounts, once started).
   */
  telephonyFor: (businessId: number, accountSid: string | null) => Promise<TelephonyProvider>;
}

/** Call recordings: the play endpoint, its cache under DATA_DIR and the high-priority download job. */
export function createRecordingsModule(deps: ModuleDeps, own: RecordingsModuleDeps): DomainModule {
  return {
    name: 'recordings',
    jobs: [downloadJob({ dataDir: deps.config.dataDir, providerFor: own.telephonyFor })],
    routes: recordingRoutes({ pool: deps.pool, accept: deps.accept, dataDir: deps.config.dataDir }),
  };
}
