import { OPERATIONS } from '../gate/operations.js';
import type { DomainModule, ModuleDeps, ModuleRoles } from '../app/module.js';
import type { ChannelStore } from '../channels/channel-store.js';
import { lazyImport } from '../lib/lazy-import.js';
import { PeriodicTask } from '../lib/periodic-task.js';
import { createTwilioSimulator, type TwilioSimulator } from '../providers/telephony/simulator.js';
import { lazyTelephonyProvider } from '../providers/telephony/lazy.js';
import type { TelephonyProvider } from '../providers/telephony/types.js';
import { createTelephonyAccounts, type TelephonyAccounts } from './accounts.js';
import { createDialer, type Dialer } from './dialer.js';
import { outboundRoutes } from './outbound.routes.js';
import { runJob } from './run.job.js';
import { createSweeper, type Sweeper } from './sweeper.js';
import { twilioWebhooks } from './twilio.webhooks.js';

export interface OutboundModule extends DomainModule {
  name: 'outbound';
  /** The in-process Twilio simulator, when this process runs one (tests inject faults through it). */
  readonly simulator: TwilioSimulator | null;
  readonly dialer: Dialer;
  /** The deployment's telephony provider (started with the module). */
  readonly provider: TelephonyProvider;
  /** The deployment's account and the businesses' own (recordings download through the call's). */
  readonly accounts: TelephonyAccounts;
  start(roles: ModuleRoles): Promise<void>;
  stop(opts?: { timeoutMs?: number }): Promise<void>;
  /** One sweeper pass now (tests; the worker role also runs it every DIALER_SWEEP_MS). */
  sweepNow(): ReturnType<Sweeper['sweep']>;
}

export function isOutboundModule(m: DomainModule): m is OutboundModule {
  return m.name === 'outbound' && 'sweepNow' in m;
}

export interface OutboundModuleDeps {
  /** The businesses' caller ids and subaccounts (channels module); null: every business uses the deployment's. */
  channels: ChannelStore | null;
}

/**
 * Outbound calls, call slots, the dialer and the Twilio webhooks (status and recording callbacks).
 *
 * Each business calls from its own caller ids through its own Twilio subaccount when its voice
 * channel names them (accounts.ts, caller-ids.ts), with one CPS budget per account; its callbacks
 * are verified with the auth token of the account the call went through.
 *
 * Provider: real Twilio when TWILIO_ACCOUNT_SID is set; otherwise the simulator at
 * TWILIO_API_BASE, or — when that is unset too — a simulator started here, in-process, on a free
 * port of 127.0.0.1, whatever the roles (the API role needs the provider for direct calls, the
 * worker role for runs, sweeps and downloads). Separate `api` and `worker` processes must share
 * one simulator through TWILIO_API_BASE: each in-process simulator knows only its own calls.
 */
export function createOutboundModule(deps: ModuleDeps, own: OutboundModuleDeps = { channels: null }): OutboundModule {
  const { config, pool, log: rootLog } = deps;
  const log = rootLog.child({ part: 'outbound' });
  let simulator: TwilioSimulator | null = null;
  let provider: TelephonyProvider | null = null;
  let accounts: TelephonyAccounts | null = null;
  let dialer: Dialer | null = null;
  let sweeper: Sweeper | null = null;
  let sweepTask: PeriodicTask | null = null;
  let stopped: Promise<void> | null = null;
  const defaults = { callingHours: config.dialer.callingHours, maxCallS: config.dialer.maxCallS };
  // An unconfirmed dial may only be reconciled once no process can still be waiting for the
  // provider's answer to it (create timeout + the CPS lookahead).
  const dialerConfig = { ...config.dialer, unconfirmedAfterMs: Math.max(config.dialer.unconfirmedAfterMs, config.dialer.createTimeoutMs + 2_000) };

  function requireDialer(): Dialer {
    if (!dialer) throw new Error('the outbound module is not started');
    return dialer;
  }
  function requireProvider(): TelephonyProvider {
    if (!provider) throw new Error('the outbound module is not started');
    return provider;
  }
  function requireAccounts(): TelephonyAccounts {
    if (!accounts) throw new Error('the outbound module is not started');
    return accounts;
  }
  function requireSweeper(): Sweeper {
    if (!sweeper) throw new Error('the outbound module is not started in the worker role');
    return sweeper;
  }

  const module: OutboundModule = {
    name: 'outbound',
    get simulator() {
      return simulator;
    },
    get dialer() {
      return requireDialer();
    },
    get provider() {
      return requireProvider();
    },
    get accounts() {
      return requireAccounts();
    },
    jobs: [runJob({ requestFill: (b) => requireDialer().requestFill(b), pollMs: config.dialer.runPollMs })],
    routes: outboundRoutes({ pool, accept: deps.accept, dialer: requireDialer, defaults, allowHttpFlowUrls: !config.production }),
    webhooks: twilioWebhooks({
      pool,
      authToken: config.twilio.authToken,
      accountSid: config.twilio.accountSid,
      ...(own.channels ? { authTokenFor: (businessId: number, accountSid: string) => requireAccounts().authTokenFor(businessId, accountSid) } : {}),
      log,
      publicBaseUrl: deps.publicBaseUrl,
      providerFor: (businessId: number, accountSid: string | null) => requireAccounts().providerFor(businessId, accountSid),
    }),

    async start(roles: ModuleRoles) {
      if (provider || (!roles.api && !roles.worker)) return;
      let apiBase = config.twilio.real ? undefined : config.twilio.apiBase;
      if (!config.twilio.real && !apiBase) {
        const channels = own.channels;
        simulator = createTwilioSimulator({
          accountSid: config.twilio.accountSid,
          authToken: config.twilio.authToken,
          // What Twilio knows of the businesses' subaccounts: their channels, as stored.
          ...(channels ? { resolveAccount: (sid: string) => channels.twilioAccountTokens(sid) } : {}),
          callMs: config.sim.callMs,
          outcomes: config.sim.outcomes,
          answeredBy: config.sim.answeredBy,
          digits: config.sim.digits,
          log: log.child({ part: 'twilio-simulator' }),
        });
        apiBase = await simulator.start();
        log.info({ url: apiBase }, 'twilio simulator started in-process');
      }
      // One transport (connection pool) for every account: the SDK sends each request's credentials.
      // The SDK loads at the first request (src/providers/telephony/lazy.ts).
      const base = apiBase;
      const sdk = lazyImport(async () => {
        const [{ RewritingRequestClient }, { createTwilioProvider }] = await Promise.all([
          import('../providers/telephony/request-client.js'),
          import('../providers/telephony/twilio.adapter.js'),
        ]);
        const httpClient = new RewritingRequestClient(base, { timeoutMs: config.dialer.createTimeoutMs });
        return (accountSid: string, authToken: string) =>
          createTwilioProvider({ accountSid, authToken, apiBase: base, timeoutMs: config.dialer.createTimeoutMs, httpClient });
      });
      const adapterFor = (accountSid: string, authToken: string) =>
        lazyTelephonyProvider(async () => (await sdk())(accountSid, authToken));
      const main = adapterFor(config.twilio.accountSid, config.twilio.authToken);
      provider = main;
      const accs = createTelephonyAccounts({ mainSid: config.twilio.accountSid, mainToken: config.twilio.authToken, main, channels: own.channels, providerOf: adapterFor });
      accounts = accs;
      dialer = createDialer({
        pool,
        databaseUrl: deps.databaseUrl,
        provider: main,
        accounts: accs,
        config: dialerConfig,
        cps: config.twilio.cps,
        from: config.twilio.from,
        log,
        publicBaseUrl: deps.publicBaseUrl,
      });
      // The dialer (NOTIFY refills, sweeper) runs in the workers that run call runs — those serving
      // the queue of enqueue_outbound_calls — so WORKER_QUEUES decides which processes dial and a
      // deployment can keep the dialer on a few workers while other queues scale out.
      const dials = roles.worker && config.worker.queues.includes(OPERATIONS.enqueue_outbound_calls.queue);
      await dialer.start({ listen: dials });
      if (dials) {
        const d = dialer;
        sweeper = createSweeper({ pool, provider: main, accounts: accs, config: dialerConfig, log, requestFill: (b) => d.requestFill(b) });
        const s = sweeper;
        sweepTask = new PeriodicTask({ name: 'dialer sweep', everyMs: config.dialer.sweepMs, log, run: () => s.sweep() });
        sweepTask.start();
      }
    },

    sweepNow() {
      return requireSweeper().sweep();
    },

    stop(opts) {
      stopped ??= (async () => {
        await sweepTask?.stop(opts);
        await dialer?.stop(opts);
        await simulator?.stop();
      })();
      return stopped;
    },
  };
  return module;
}
