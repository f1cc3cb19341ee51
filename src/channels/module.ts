import type { DomainModule, ModuleDeps } from '../app/module.js';
import type { SecretBox } from '../lib/secret-box.js';
import { createChannelStore, type ChannelStore } from './channel-store.js';
import { channelRoutes } from './channels.routes.js';
import { loadSecretBox } from './secrets-key.js';

export interface ChannelsModule extends DomainModule {
  name: 'channels';
  /** What the dialer, broadcasts, webhooks and simulators read of the channels (secrets opened). */
  readonly store: ChannelStore;
}

/**
 * Each business's own channels (DESIGN.md invariant 11): caller ids and a Twilio subaccount,
 * a WhatsApp sender; their secrets sealed under SECRETS_KEY (src/lib/secret-box.ts). Started
 * first: the key is read (or generated into DATA_DIR) before any domain can need a secret.
 */
export function createChannelsModule(deps: ModuleDeps): ChannelsModule {
  let box: SecretBox | null = null;
  const requireBox = (): SecretBox => {
    if (!box) throw new Error('the channels module is not started (SECRETS_KEY not loaded yet)');
    return box;
  };
  return {
    name: 'channels',
    store: createChannelStore(deps.pool, requireBox),
    routes: channelRoutes({ pool: deps.pool, box: requireBox, defaultPhoneNumberId: deps.config.whatsapp.phoneNumberId }),
    async start() {
      box ??= await loadSecretBox(deps.config, deps.log.child({ part: 'channels' }));
    },
  };
}
