-- Receipts from Gmail (issue 17; API.md "Transcripts and receipts from Gmail").

-- A business's connected mailbox. The refresh token is sealed like the channels' secrets
-- (src/lib/secret-box.ts, bound to 'gmail_connections.refresh_token:<business id>') and never
-- shown. history_id is Gmail's historyId (a uint64, kept as text) as of the last sync: the next
-- one asks history.list for what was added since; NULL = the next sync is a full one.
-- last_error is a message key (src/lib/messages.ts), said in the reader's language.
CREATE TABLE gmail_connections (
  business_id          bigint      PRIMARY KEY REFERENCES businesses(id) ON DELETE CASCADE,
  email                text        NOT NULL,
  refresh_token_sealed text        NOT NULL,
  status               text        NOT NULL DEFAULT 'connected' CHECK (status IN ('connected', 'reauth_required')),
  history_id           text        CHECK (history_id ~ '^[0-9]{1,20}$'),
  connected_by         bigint,
  connected_at         timestamptz NOT NULL DEFAULT now(),
  last_sync_at         timestamptz,
  last_error           text,
  -- When the periodic sync is due (GMAIL_SYNC_EVERY_MS, spread out per business).
  next_sync_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gmail_connections_due ON gmail_connections (next_sync_at) WHERE status = 'connected';

-- A consent in progress: the sha-256 of the random `state` handed to Google, bound to the business
-- and the user who started it; used once (deleted by the callback), for 10 minutes.
-- browser_nonce_hash: when started from a dashboard session, the callback must come from the
-- same browser (a cookie set by the connect answer), so a consent link sent to someone else
-- cannot connect their mailbox to this business.
CREATE TABLE gmail_oauth_states (
  state_hash         bytea       PRIMARY KEY,
  business_id        bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  user_id            bigint      NOT NULL,
  browser_nonce_hash bytea,
  expires_at         timestamptz NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gmail_oauth_states_expiry ON gmail_oauth_states (expires_at);

ALTER TABLE receipts
  ADD COLUMN source           text    NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'gmail')),
  ADD COLUMN gmail_message_id text    CHECK (gmail_message_id ~ '^[0-9a-zA-Z_-]{1,64}$'),
  ADD COLUMN subject          text,
  ADD COLUMN sender           text,
  ADD COLUMN has_attachment   boolean NOT NULL DEFAULT false,
  ADD CHECK ((source = 'gmail') = (gmail_message_id IS NOT NULL));
-- A message never makes two receipts: the sync inserts ON CONFLICT DO NOTHING against this.
CREATE UNIQUE INDEX receipts_gmail_message ON receipts (business_id, gmail_message_id) WHERE gmail_message_id IS NOT NULL;

-- The PDF a receipt's mail carried, beside the receipt (the list never reads the bytes).
CREATE TABLE receipt_attachments (
  receipt_id   bigint PRIMARY KEY REFERENCES receipts(id) ON DELETE CASCADE,
  business_id  bigint NOT NULL,
  filename     text   NOT NULL,
  content_type text   NOT NULL,
  bytes        bytea  NOT NULL
);

-- Gmail messages whose receipts "delete all" removed: an incremental or fallback sync does not
-- bring them back; only an explicit full resync does (and clears the mark of what it re-imports).
CREATE TABLE gmail_deleted_messages (
  business_id      bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  gmail_message_id text        NOT NULL,
  deleted_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, gmail_message_id)
);
