import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { isSupportedCountry } from 'libphonenumber-js';
import { z } from 'zod';
import { secretKeyFrom } from '../lib/secret-box.js';

/**
 * The environment is parsed once, here, into a frozen object. Names are part of the public
 * contract (API.md "Configuration"); the engine tunables below are Bulkhead's own additions.
 */
const intFrom = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
/** An integer that may be left unset (an empty value counts as unset). */
const optionalInt = (min = 0) => z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number().int().min(min).optional());

/** A secret that may be left unset; when set, as long as ADMIN_TOKEN must be. */
const optionalToken = (name: string) =>
  z.preprocess((v) => (v === '' ? undefined : v), z.string().min(16, `${name} must be at least 16 characters`).optional());

let canonicalZones: ReadonlySet<string> | undefined;

export function isTimeZone(tz: string): boolean {
  // The canonical list answers the usual case in ~2 ms; a process's first DateTimeFormat loads
  // ICU's formatting data (~25 ms, paid by every process that reads its config), which only an
  // alias (UTC, Asia/Tel_Aviv) or a typo still pays here.
  if ((canonicalZones ??= new Set(Intl.supportedValuesOf('timeZone'))).has(tz)) return true;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const EnvSchema = z.object({
  PORT: intFrom(3000, 0),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z.string().url().optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters').optional(),
  /** Bearer that /metrics requires when set; unset (or empty) = open (README "Operations", Security). */
  METRICS_TOKEN: optionalToken('METRICS_TOKEN'),
  /** Bearer (or HTTP Basic password) that /docs requires when set; unset (or empty) = open. */
  DOCS_TOKEN: optionalToken('DOCS_TOKEN'),
  PUBLIC_BASE_URL: z.string().url().optional(),
  DEMO: z.enum(['0', '1']).default('0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.string().default('development'),

  /** Request budget per API token and per client address (src/http/request-budget.ts). */
  API_RATE_PER_S: intFrom(50, 1),
  API_RATE_BURST: intFrom(200, 1),
  /** Behind a reverse proxy: take the client address from X-Forwarded-For (Fastify's trustProxy). */
  TRUST_PROXY: z.enum(['0', '1']).default('0'),
  /** The whole request (headers and body) must arrive within this; 0 = no limit. */
  HTTP_REQUEST_TIMEOUT_MS: intFrom(30_000, 0),
  HTTP_HEADERS_TIMEOUT_MS: intFrom(10_000, 1),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: intFrom(5_000, 1),
  /** Open connections one API process accepts; more are closed at once. */
  HTTP_MAX_CONNECTIONS: intFrom(1_000, 1),
  DB_POOL_MAX: intFrom(10, 1),
  WORKER_CONCURRENCY: intFrom(4, 1),
  /** The share of a worker's slots one business may hold while another business has due jobs (README "Fair share between businesses"). */
  WORKER_BUSINESS_SHARE: z.coerce.number().gt(0, 'must be more than 0').max(1, 'must be at most 1').default(0.5),
  WORKER_QUEUES: z.string().default('recordings,default,maintenance,broadcasts,low'),
  /** The most jobs a worker claims beyond its free slots while its jobs are short (src/jobs/claim-ahead.ts); 0: never. */
  WORKER_CLAIM_AHEAD: intFrom(500, 0),
  /** A fixed batch size; unset = adaptive (JOB_BATCH_TARGET_MS between JOB_BATCH_MIN and JOB_BATCH_MAX). */
  JOB_BATCH_SIZE: optionalInt(1),
  /** A fixed pause between batches; unset = paced by database pressure (JOB_PRESSURE_ACTIVE). */
  JOB_BATCH_PAUSE_MS: optionalInt(0),
  JOB_BATCH_TARGET_MS: intFrom(200, 1),
  JOB_BATCH_MIN: intFrom(10, 1),
  JOB_BATCH_MAX: intFrom(10_000, 1),
  /** Active sessions of the database above which bulk batches wait before the next one. */
  JOB_PRESSURE_ACTIVE: intFrom(8, 1),
  /** The longest wait at one batch boundary while the database is under pressure. */
  JOB_PRESSURE_MAX_PAUSE_MS: intFrom(1_000, 0),
  JOB_RUNTIME_SLICE_MS: intFrom(300_000, 1),
  JOB_MAX_CONSECUTIVE_FAILURES: intFrom(10, 1),
  JOB_RETRY_BASE_MS: intFrom(1_000, 1),
  DB_IDLE_IN_TX_TIMEOUT_MS: intFrom(30_000, 0),
  WORKER_HEARTBEAT_MS: intFrom(2_000, 50),
  WORKER_STALE_MS: intFrom(10_000, 100),
  WORKER_POLL_MS: intFrom(5_000, 50),
  GATE_DEDUP_WINDOW_S: intFrom(10, 0),
  JOB_RETENTION_DAYS: intFrom(30, 1),
  /** How often each worker prunes (finished jobs past retention, expired idempotency keys …). */
  JOB_RETENTION_EVERY_MS: intFrom(600_000, 100),
  /** What a new business starts with (API.md "Channels, locale, call flows"). */
  DEFAULT_COUNTRY: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166 alpha-2 country code such as IL').refine(isSupportedCountry, 'is not a country whose phone numbers we can read').default('IL'),
  DEFAULT_TIMEZONE: z.string().refine(isTimeZone, 'must be an IANA time zone such as Asia/Jerusalem').default('Asia/Jerusalem'),
  DEFAULT_LOCALE: z.enum(['he', 'en']).default('he'),
  /**
   * Encrypts stored provider secrets (src/lib/secret-box.ts): 32 bytes, base64. Unset: generated
   * into DATA_DIR/secrets-key (src/channels/secrets-key.ts), except in production, where it is
   * required. SECRETS_KEY_PREVIOUS: the key being rotated away from (README "Setting up a business").
   */
  SECRETS_KEY: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()),
  SECRETS_KEY_PREVIOUS: z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()),
  /** Leads a bulk delete moved to the trash are purged after this many days. */
  TRASH_RETENTION_DAYS: intFrom(30, 1),
  /** Audit entries older than this are pruned (the only deletion the audit table allows). */
  AUDIT_RETENTION_DAYS: intFrom(365, 1),
  /** A dashboard session unused for this long is over (sign in again). */
  SESSION_IDLE_MINUTES: intFrom(720, 1),
  /** A session ends after this many days however active it is. */
  SESSION_MAX_DAYS: intFrom(30, 1),

  TWILIO_ACCOUNT_SID: z.string().regex(/^AC[0-9a-fA-F]{32}$/, 'must look like AC followed by 32 hex digits').optional(),
  TWILIO_AUTH_TOKEN: z.string().min(8).optional(),
  TWILIO_FROM: z.string().min(3).optional(),
  TWILIO_CPS: z.coerce.number().positive().optional(),
  /** Where the Twilio REST API is (a simulator run by `bulkhead simulators`); unset = in-process simulator or real Twilio. */
  TWILIO_API_BASE: z.string().url().optional(),
  WHATSAPP_TOKEN: z.string().min(1).optional(),
  WHATSAPP_PHONE_NUMBER_ID: z.string().min(1).optional(),
  WHATSAPP_APP_SECRET: z.string().min(8).optional(),
  WHATSAPP_VERIFY_TOKEN: z.string().min(1).optional(),
  WHATSAPP_API_BASE: z.string().url().optional(),
  /** Messages per second our pacer allows per sender number (all workers together); default 80 real, SIM_WHATSAPP_MPS simulated. */
  WHATSAPP_MPS: z.coerce.number().positive().optional(),
  WHATSAPP_API_VERSION: z.string().regex(/^v\d+\.\d+$/, 'must look like v21.0').default('v21.0'),
  SIM_CALL_MS: intFrom(2_000, 0),
  SIM_OUTCOMES: z.string().default('completed:0.8,no-answer:0.1,busy:0.1'),
  /** Who answers a simulated call (answering-machine detection's verdict): human | machine | unknown with weights. */
  SIM_ANSWERED_BY: z.string().regex(/^(human|machine|unknown)(:[0-9.]+)?(,(human|machine|unknown)(:[0-9.]+)?)*$/, 'must look like human:0.8,machine:0.2').default('human:0.8,machine:0.2'),
  /** The key a simulated callee presses at the call flow's first <Gather>: none or a key, with weights. */
  SIM_DIGITS: z.string().regex(/^(none|[0-9*#])(:[0-9.]+)?(,(none|[0-9*#])(:[0-9.]+)?)*$/, 'must look like none:0.8,1:0.15,9:0.05').default('none:0.8,1:0.15,9:0.05'),
  SIM_WHATSAPP_MPS: intFrom(80, 1),

  /** Default calling hours (business time zone) when a business has set none: HH:MM-HH:MM. */
  DIALER_CALLING_HOURS: z.string().regex(/^\d{2}:\d{2}-\d{2}:\d{2}$/, 'must look like 08:00-21:00').default('08:00-21:00'),
  /** How often each worker's dialer sweeps (stale calls, unconfirmed dials, due retries, cancelled runs). */
  DIALER_SWEEP_MS: intFrom(5_000, 10),
  /** An active call without news for this long is looked up at the provider. */
  DIALER_CHECK_AFTER_MS: intFrom(120_000, 10),
  /** A claimed call the provider never confirmed is reconciled after this long (> the create-call timeout). */
  DIALER_UNCONFIRMED_AFTER_MS: intFrom(60_000, 10),
  /** How long a run's job waits between progress checks when nothing wakes it. */
  DIALER_RUN_POLL_MS: intFrom(5_000, 10),
  /** Maximum call duration (seconds) unless the business sets its own; also sent to Twilio as TimeLimit. */
  DIALER_MAX_CALL_S: intFrom(3_600, 10),
  /** Create-call HTTP timeout. */
  DIALER_CREATE_TIMEOUT_MS: intFrom(15_000, 100),

  // Transcripts (issue 16): any OpenAI-compatible POST /v1/audio/transcriptions; unset key = the simulator.
  TRANSCRIBE_API_BASE: z.string().url().optional(),
  TRANSCRIBE_API_KEY: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional()),
  TRANSCRIBE_MODEL: z.string().min(1).default('whisper-1'),
  /** Transcriptions one process runs at once, on its own worker for the `transcripts` queue (0: none here). */
  TRANSCRIBE_CONCURRENCY: intFrom(2, 0),
  /** Below DB_IDLE_IN_TX_TIMEOUT_MS: the transcription runs inside its batch transaction. */
  TRANSCRIBE_TIMEOUT_MS: intFrom(25_000, 100),
  /** The simulator's Retry-After on its 429 answers (tests make it short). */
  SIM_TRANSCRIBE_RETRY_AFTER_S: intFrom(1, 0),
  // Gmail receipts (issue 17): real Google when the client id is set; the in-process simulator otherwise.
  GOOGLE_CLIENT_ID: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional()),
  GOOGLE_CLIENT_SECRET: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional()),
  /** How often each connected business's mailbox is synced (spread out between businesses). */
  GMAIL_SYNC_EVERY_MS: intFrom(900_000, 1_000),
  // Recordings store (issue 16): the local cache under DATA_DIR, optionally backed by an S3-compatible bucket.
  RECORDINGS_STORE: z.enum(['local', 's3']).default('local'),
  RECORDINGS_CACHE_MAX_MB: intFrom(1_024, 1),
  S3_ENDPOINT: z.string().url().optional(),
  S3_BUCKET: z.string().min(1).optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: z.enum(['0', '1']).default('0'),
});

export type Env = z.infer<typeof EnvSchema>;

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  adminToken: string;
  adminTokenGenerated: boolean;
  /** Tokens that close /metrics and /docs; null = open. */
  ops: { metricsToken: string | null; docsToken: string | null };
  publicBaseUrl: string;
  demo: boolean;
  logLevel: Env['LOG_LEVEL'];
  production: boolean;
  dbPoolMax: number;
  dbIdleInTxTimeoutMs: number;
  worker: WorkerConfig;
  gate: { dedupWindowS: number };
  http: HttpConfig;
  jobRetentionDays: number;
  jobRetentionEveryMs: number;
  people: PeopleConfig;
  /** A new business's country (for local phone numbers), time zone (calling hours) and language. */
  businessDefaults: { country: string; timezone: string; locale: 'he' | 'en' };
  twilio: TwilioConfig;
  whatsapp: WhatsAppConfig;
  secrets: SecretsConfig;
  sim: { callMs: number; outcomes: string; answeredBy: string; digits: string; whatsappMps: number };
  dialer: DialerConfig;
  transcription: TranscriptionConfig;
  recordings: RecordingsStoreConfig;
  gmail: GmailConfig;
}

export interface GmailConfig {
  /** false: the Google simulator, in-process, reached through the same clients. */
  real: boolean;
  clientId: string | undefined;
  clientSecret: string | undefined;
  syncEveryMs: number;
}

export interface TranscriptionConfig {
  /** false: the simulator (in-process), reached through the same SDK. */
  real: boolean;
  apiBase: string | undefined;
  apiKey: string | undefined;
  model: string;
  concurrency: number;
  timeoutMs: number;
  simRetryAfterS: number;
}

export interface RecordingsStoreConfig {
  store: 'local' | 's3';
  cacheMaxBytes: number;
  s3: { endpoint: string | undefined; bucket: string; region: string; accessKeyId: string | undefined; secretAccessKey: string | undefined; forcePathStyle: boolean };
}

export interface PeopleConfig {
  trashRetentionDays: number;
  auditRetentionDays: number;
  sessionIdleMs: number;
  sessionMaxMs: number;
  /** Cookies get `Secure` when the public URL is https. */
  secureCookies: boolean;
}

export interface HttpConfig {
  ratePerS: number;
  rateBurst: number;
  trustProxy: boolean;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

/**
 * The keys that seal provider secrets, as given (base64). Kept as text and turned into keys only
 * by src/channels/secrets-key.ts; nothing logs the config, and these fields must never be logged.
 */
export interface SecretsConfig {
  /** SECRETS_KEY; null = the generated key in DATA_DIR/secrets-key (never in production). */
  key: string | null;
  /** SECRETS_KEY_PREVIOUS: values sealed under it still open (rotation). */
  previous: string | null;
}

export interface DialerConfig {
  callingHours: string;
  sweepMs: number;
  checkAfterMs: number;
  unconfirmedAfterMs: number;
  runPollMs: number;
  maxCallS: number;
  createTimeoutMs: number;
}

export interface TwilioConfig {
  /** false: the simulator (in-process, or at apiBase), with the development credentials below. */
  real: boolean;
  accountSid: string;
  authToken: string;
  from: string;
  cps: number;
  apiBase: string | undefined;
}

export interface WhatsAppConfig {
  real: boolean;
  token: string;
  phoneNumberId: string;
  appSecret: string;
  verifyToken: string;
  apiBase: string | undefined;
  /** Sends per second per sender number, shared by every worker (the pacer's rate). */
  mps: number;
  apiVersion: string;
}

/** Development credentials of the simulators: they sign webhooks with these, we verify them. */
export const SIM_TWILIO_ACCOUNT_SID = 'AC00000000000000000000000000000000';
export const SIM_TWILIO_AUTH_TOKEN = 'sim-twilio-auth-token';
export const SIM_WHATSAPP_APP_SECRET = 'sim-whatsapp-app-secret';

export interface WorkerConfig {
  concurrency: number;
  /** WORKER_BUSINESS_SHARE: 0 < share ≤ 1 (1: no per-business limit, fewest-running-first only). */
  businessShare: number;
  queues: string[];
  /** WORKER_CLAIM_AHEAD: the most jobs claimed beyond free slots (0: none). */
  claimAhead: number;
  batch: BatchConfig;
  runtimeSliceMs: number;
  maxConsecutiveFailures: number;
  retryBaseMs: number;
  heartbeatMs: number;
  staleMs: number;
  pollMs: number;
}

/** How big a batch is and how long a worker waits between two (src/jobs/batch-pacing.ts). */
export interface BatchConfig {
  /** JOB_BATCH_SIZE: every batch this size; null = adaptive. */
  fixedSize: number | null;
  targetMs: number;
  minSize: number;
  maxSize: number;
  /** JOB_BATCH_PAUSE_MS: always this pause; null = only under pressure. */
  fixedPauseMs: number | null;
  pressureActive: number;
  maxPauseMs: number;
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  if (production && !e.ADMIN_TOKEN) {
    throw new ConfigError('ADMIN_TOKEN must be set when NODE_ENV=production');
  }
  if (production && !e.SECRETS_KEY) {
    throw new ConfigError('SECRETS_KEY must be set when NODE_ENV=production (32 bytes in base64: openssl rand -base64 32)');
  }
  for (const [name, value] of [['SECRETS_KEY', e.SECRETS_KEY], ['SECRETS_KEY_PREVIOUS', e.SECRETS_KEY_PREVIOUS]] as const) {
    if (value === undefined) continue;
    try {
      secretKeyFrom(value, name);
    } catch (err) {
      throw new ConfigError(`Invalid configuration:\n  ${name}: ${(err as Error).message}`);
    }
  }
  if (e.RECORDINGS_STORE === 's3' && !e.S3_BUCKET) throw new ConfigError('RECORDINGS_STORE=s3: S3_BUCKET must be set');
  if (e.TWILIO_ACCOUNT_SID && (!e.TWILIO_AUTH_TOKEN || !e.TWILIO_FROM)) {
    throw new ConfigError('TWILIO_ACCOUNT_SID is set: TWILIO_AUTH_TOKEN and TWILIO_FROM must be set too');
  }
  if (e.WHATSAPP_TOKEN && (!e.WHATSAPP_PHONE_NUMBER_ID || !e.WHATSAPP_APP_SECRET || !e.WHATSAPP_VERIFY_TOKEN)) {
    throw new ConfigError('WHATSAPP_TOKEN is set: WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN must be set too');
  }
  const adminToken = e.ADMIN_TOKEN ?? `adm_${randomBytes(18).toString('base64url')}`;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.DATA_DIR),
    adminToken,
    adminTokenGenerated: !e.ADMIN_TOKEN,
    ops: Object.freeze({ metricsToken: e.METRICS_TOKEN ?? null, docsToken: e.DOCS_TOKEN ?? null }),
    publicBaseUrl: (e.PUBLIC_BASE_URL ?? `http://${e.HOST}:${e.PORT}`).replace(/\/$/, ''),
    demo: e.DEMO === '1',
    logLevel: e.LOG_LEVEL,
    production,
    dbPoolMax: e.DB_POOL_MAX,
    dbIdleInTxTimeoutMs: e.DB_IDLE_IN_TX_TIMEOUT_MS,
    worker: Object.freeze({
      concurrency: e.WORKER_CONCURRENCY,
      businessShare: e.WORKER_BUSINESS_SHARE,
      queues: e.WORKER_QUEUES.split(',').map((q) => q.trim()).filter(Boolean),
      claimAhead: e.WORKER_CLAIM_AHEAD,
      batch: Object.freeze({
        fixedSize: e.JOB_BATCH_SIZE ?? null,
        targetMs: e.JOB_BATCH_TARGET_MS,
        minSize: Math.min(e.JOB_BATCH_MIN, e.JOB_BATCH_MAX),
        maxSize: e.JOB_BATCH_MAX,
        fixedPauseMs: e.JOB_BATCH_PAUSE_MS ?? null,
        pressureActive: e.JOB_PRESSURE_ACTIVE,
        maxPauseMs: e.JOB_PRESSURE_MAX_PAUSE_MS,
      }),
      runtimeSliceMs: e.JOB_RUNTIME_SLICE_MS,
      maxConsecutiveFailures: e.JOB_MAX_CONSECUTIVE_FAILURES,
      retryBaseMs: e.JOB_RETRY_BASE_MS,
      heartbeatMs: e.WORKER_HEARTBEAT_MS,
      staleMs: e.WORKER_STALE_MS,
      pollMs: e.WORKER_POLL_MS,
    }),
    gate: Object.freeze({ dedupWindowS: e.GATE_DEDUP_WINDOW_S }),
    http: Object.freeze({
      ratePerS: e.API_RATE_PER_S,
      rateBurst: Math.max(e.API_RATE_BURST, e.API_RATE_PER_S),
      trustProxy: e.TRUST_PROXY === '1',
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      // Node requires headersTimeout ≤ requestTimeout when both are set.
      headersTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS > 0 ? Math.min(e.HTTP_HEADERS_TIMEOUT_MS, e.HTTP_REQUEST_TIMEOUT_MS) : e.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: e.HTTP_MAX_CONNECTIONS,
    }),
    jobRetentionDays: e.JOB_RETENTION_DAYS,
    jobRetentionEveryMs: e.JOB_RETENTION_EVERY_MS,
    businessDefaults: Object.freeze({ country: e.DEFAULT_COUNTRY, timezone: e.DEFAULT_TIMEZONE, locale: e.DEFAULT_LOCALE }),
    people: Object.freeze({
      trashRetentionDays: e.TRASH_RETENTION_DAYS,
      auditRetentionDays: e.AUDIT_RETENTION_DAYS,
      sessionIdleMs: e.SESSION_IDLE_MINUTES * 60_000,
      sessionMaxMs: e.SESSION_MAX_DAYS * 86_400_000,
      secureCookies: (e.PUBLIC_BASE_URL ?? '').startsWith('https:'),
    }),
    twilio: Object.freeze({
      real: e.TWILIO_ACCOUNT_SID !== undefined,
      accountSid: e.TWILIO_ACCOUNT_SID ?? SIM_TWILIO_ACCOUNT_SID,
      authToken: e.TWILIO_AUTH_TOKEN ?? SIM_TWILIO_AUTH_TOKEN,
      from: e.TWILIO_FROM ?? '+15005550006',
      cps: e.TWILIO_CPS ?? (e.TWILIO_ACCOUNT_SID ? 1 : 50),
      apiBase: e.TWILIO_API_BASE,
    }),
    whatsapp: Object.freeze({
      real: e.WHATSAPP_TOKEN !== undefined,
      token: e.WHATSAPP_TOKEN ?? 'sim-whatsapp-token',
      phoneNumberId: e.WHATSAPP_PHONE_NUMBER_ID ?? '100000000000001',
      appSecret: e.WHATSAPP_APP_SECRET ?? SIM_WHATSAPP_APP_SECRET,
      verifyToken: e.WHATSAPP_VERIFY_TOKEN ?? 'sim-verify-token',
      apiBase: e.WHATSAPP_API_BASE,
      mps: e.WHATSAPP_MPS ?? (e.WHATSAPP_TOKEN ? 80 : e.SIM_WHATSAPP_MPS),
      apiVersion: e.WHATSAPP_API_VERSION,
    }),
    secrets: Object.freeze({ key: e.SECRETS_KEY ?? null, previous: e.SECRETS_KEY_PREVIOUS ?? null }),
    sim: Object.freeze({ callMs: e.SIM_CALL_MS, outcomes: e.SIM_OUTCOMES, answeredBy: e.SIM_ANSWERED_BY, digits: e.SIM_DIGITS, whatsappMps: e.SIM_WHATSAPP_MPS }),
    dialer: Object.freeze({
      callingHours: e.DIALER_CALLING_HOURS,
      sweepMs: e.DIALER_SWEEP_MS,
      checkAfterMs: e.DIALER_CHECK_AFTER_MS,
      unconfirmedAfterMs: e.DIALER_UNCONFIRMED_AFTER_MS,
      runPollMs: e.DIALER_RUN_POLL_MS,
      maxCallS: e.DIALER_MAX_CALL_S,
      createTimeoutMs: e.DIALER_CREATE_TIMEOUT_MS,
    }),
    transcription: Object.freeze({
      real: e.TRANSCRIBE_API_KEY !== undefined,
      apiBase: e.TRANSCRIBE_API_BASE,
      apiKey: e.TRANSCRIBE_API_KEY,
      model: e.TRANSCRIBE_MODEL,
      concurrency: e.TRANSCRIBE_CONCURRENCY,
      timeoutMs: e.TRANSCRIBE_TIMEOUT_MS,
      simRetryAfterS: e.SIM_TRANSCRIBE_RETRY_AFTER_S,
    }),
    gmail: Object.freeze({
      real: e.GOOGLE_CLIENT_ID !== undefined,
      clientId: e.GOOGLE_CLIENT_ID,
      clientSecret: e.GOOGLE_CLIENT_SECRET,
      syncEveryMs: e.GMAIL_SYNC_EVERY_MS,
    }),
    recordings: Object.freeze({
      store: e.RECORDINGS_STORE,
      cacheMaxBytes: e.RECORDINGS_CACHE_MAX_MB * 1024 * 1024,
      s3: Object.freeze({
        endpoint: e.S3_ENDPOINT,
        bucket: e.S3_BUCKET ?? '',
        region: e.S3_REGION,
        accessKeyId: e.S3_ACCESS_KEY_ID,
        secretAccessKey: e.S3_SECRET_ACCESS_KEY,
        forcePathStyle: e.S3_FORCE_PATH_STYLE === '1',
      }),
    }),
  });
}
