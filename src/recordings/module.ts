import type { DomainModule, ModuleDeps } from '../app/module.js';
import type { TelephonyProvider } from '../providers/telephony/types.js';
import type { RecordingsStoreConfig } from '../config/config.js';
import { lazyImport } from '../lib/lazy-import.js';
import { RecordingsCache, type RemoteRecordingStore } from './cache.js';
import { downloadJob } from './download.job.js';
import { recordingRoutes } from './recordings.routes.js';

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
  const cache = new RecordingsCache(deps.config.dataDir, recordings.cacheMaxBytes, recordings.store === 's3' ? s3OnFirstUse(recordings.s3) : null);
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

/** The S3 store, with the AWS SDK, built at its first use (src/lib/lazy-import.ts). */
function s3OnFirstUse(c: RecordingsStoreConfig['s3']): RemoteRecordingStore {
  const store = lazyImport(async () => (await import('./s3.store.js')).s3StoreFromConfig(c));
  return {
    download: async (key, out) => (await store()).download(key, out),
    upload: async (key, file, size) => (await store()).upload(key, file, size),
  };
}
