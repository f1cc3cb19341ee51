import type { DomainModule, ModuleDeps } from '../app/module.js';
import type { TelephonyProvider } from '../providers/telephony/types.js';
import { RecordingsCache } from './cache.js';
import { downloadJob } from './download.job.js';
import { recordingRoutes } from './recordings.routes.js';
import { s3StoreFromConfig } from './s3.store.js';

export interface RecordingsModuleDeps {
  /**
   * The telephony provider a call's recording is fetched from: the account the call was placed
   * through (the outbound module's accounts, once started).
   */
  telephonyFor: (businessId: number, accountSid: string | null) => Promise<TelephonyProvider>;
}

export interface RecordingsModule extends DomainModule {
  /** The one cache of this process: plays and transcriptions share it (and its one download per call). */
  cache: RecordingsCache;
}

/** Call recordings: the play endpoint, its cache under DATA_DIR (and the optional S3 store) and the high-priority download job. */
export function createRecordingsModule(deps: ModuleDeps, own: RecordingsModuleDeps): RecordingsModule {
  const { recordings } = deps.config;
  const cache = new RecordingsCache(deps.config.dataDir, recordings.cacheMaxBytes, recordings.store === 's3' ? s3StoreFromConfig(recordings.s3) : null);
  return {
    name: 'recordings',
    cache,
    jobs: [downloadJob({ cache, providerFor: own.telephonyFor })],
    routes: recordingRoutes({ pool: deps.pool, cache }),
  };
}

export function isRecordingsModule(m: DomainModule): m is RecordingsModule {
  return m.name === 'recordings';
}
