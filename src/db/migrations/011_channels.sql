-- Every business its own numbers (DESIGN.md invariant 11; API.md "Channels, locale, call flows").
-- Secrets are stored sealed (src/lib/secret-box.ts: 'v1.<key id>.<iv>.<tag>.<ciphertext>', AES-256-GCM
-- under SECRETS_KEY); the *_hint columns hold what the API shows of them ('…' + last 4).

-- The business's own Twilio subaccount, when it has one; without a row (or with a NULL sid) its
-- calls go through the deployment's account (TWILIO_ACCOUNT_SID).
CREATE TABLE voice_channels (
  business_id       bigint      PRIMARY KEY REFERENCES businesses(id) ON DELETE CASCADE,
  account_sid       text        CHECK (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
  auth_token_sealed text,
  auth_token_hint   text,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CHECK ((account_sid IS NULL) = (auth_token_sealed IS NULL) AND (account_sid IS NULL) = (auth_token_hint IS NULL))
);

-- The numbers a business's calls go out from. A number is one business's (the primary key): two
-- businesses never call from the same caller id. `uses` is the round robin's state (the claim
-- picks the least used of the fitting numbers and counts it, under the business's slot lock);
-- `country` is the number's, for "one of the lead's country first".
CREATE TABLE voice_caller_ids (
  caller_id   text   PRIMARY KEY,
  business_id bigint NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  position    int    NOT NULL,
  country     text,
  uses        bigint NOT NULL DEFAULT 0
);
CREATE INDEX voice_caller_ids_business ON voice_caller_ids (business_id, position);

-- The business's own WhatsApp sender. A phone number id is one business's: its delivery webhooks
-- are routed and verified by it.
CREATE TABLE whatsapp_channels (
  business_id         bigint      PRIMARY KEY REFERENCES businesses(id) ON DELETE CASCADE,
  phone_number_id     text        NOT NULL UNIQUE,
  access_token_sealed text        NOT NULL,
  access_token_hint   text        NOT NULL,
  app_secret_sealed   text,
  app_secret_hint     text,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CHECK ((app_secret_sealed IS NULL) = (app_secret_hint IS NULL))
);

-- The Twilio account a call was placed through (NULL: the deployment's): its callbacks are
-- verified with that account's auth token, and the sweeper and recording downloads ask that account.
ALTER TABLE calls ADD COLUMN account_sid text;

-- CPS is per Twilio account (each subaccount has its own limit): one GCRA row per account sid,
-- created on the account's first call. The single row of 002 held only a schedule at most ~1 s
-- ahead; dropping it loses nothing.
DELETE FROM dialer_cps;
ALTER TABLE dialer_cps DROP COLUMN id;
ALTER TABLE dialer_cps ADD COLUMN account_sid text PRIMARY KEY;
