-- WhatsApp broadcasts: the broadcast, one row per recipient, opt-outs, the shared send pacer and
-- status events that arrived before we knew their message id. Depends on 001 only.
-- Design: docs/BROADCASTS.md.

CREATE TABLE whatsapp_broadcasts (
  id              bigserial PRIMARY KEY,
  business_id     bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  -- No foreign key: finished jobs are pruned after JOB_RETENTION_DAYS, the broadcast stays.
  job_id          bigint      NOT NULL,
  -- The sender, fixed at creation (Invariant 7: the worker never asks a request for it).
  phone_number_id text        NOT NULL,
  -- {"type":"text","text":…} | {"type":"template","name":…,"language":…,"variables":[…]}
  message         jsonb       NOT NULL,
  duplicates      int         NOT NULL DEFAULT 0,
  created_by      bigint      REFERENCES users(id) ON DELETE SET NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX whatsapp_broadcasts_business ON whatsapp_broadcasts (business_id, id DESC);
CREATE INDEX whatsapp_broadcasts_job ON whatsapp_broadcasts (job_id);

CREATE TABLE whatsapp_recipients (
  id              bigserial PRIMARY KEY,
  business_id     bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  broadcast_id    bigint      NOT NULL REFERENCES whatsapp_broadcasts(id) ON DELETE CASCADE,
  phone           text        NOT NULL,
  lead_id         bigint,
  status          text        NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'skipped')),
  -- Why it is skipped or failed (opted_out, needs_template, not_on_whatsapp, unknown_outcome …),
  -- or why a queued one waits (rate_limited, pair_rate_limited, provider_unavailable).
  reason          text,
  error_code      int,
  attempts        int         NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  -- The job claim (jobs.attempts) that marked it sending: tells an orphan of a dead worker apart.
  send_claim      int,
  message_id      text,
  sent_at         timestamptz,
  delivered_at    timestamptz,
  read_at         timestamptz,
  -- The provider timestamp of the newest status event applied (webhooks only move forward).
  status_at       timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (broadcast_id, phone)
);
CREATE INDEX whatsapp_recipients_work ON whatsapp_recipients (broadcast_id, status, id);
CREATE UNIQUE INDEX whatsapp_recipients_message ON whatsapp_recipients (message_id) WHERE message_id IS NOT NULL;
-- An inbound STOP names only the phone: which businesses messaged it (docs/BROADCASTS.md).
CREATE INDEX whatsapp_recipients_phone ON whatsapp_recipients (phone);

CREATE TABLE whatsapp_opt_outs (
  id          bigserial   UNIQUE,
  business_id bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  phone       text        NOT NULL,
  source      text        NOT NULL CHECK (source IN ('api', 'inbound_stop')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, phone)
);
CREATE INDEX whatsapp_opt_outs_list ON whatsapp_opt_outs (business_id, id);

-- One row per sender number, shared by every worker sending for it: the send slots reserved in
-- the last second (epoch ms, ascending, at most one window's worth) and the schedule's next
-- theoretical slot (GCRA). See src/broadcasts/pacing.ts.
CREATE TABLE whatsapp_pacing (
  phone_number_id text     PRIMARY KEY,
  slots           float8[] NOT NULL DEFAULT '{}',
  tat_ms          float8
);

-- The provider may post a status before its send's HTTP answer reached us (or before we wrote
-- the message id down). Such events wait here and are applied when the message id is recorded.
CREATE TABLE whatsapp_pending_statuses (
  id           bigserial PRIMARY KEY,
  message_id   text        NOT NULL,
  status       text        NOT NULL CHECK (status IN ('sent', 'delivered', 'read', 'failed')),
  occurred_at  timestamptz NOT NULL,
  error_code   int,
  received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX whatsapp_pending_statuses_message ON whatsapp_pending_statuses (message_id);
