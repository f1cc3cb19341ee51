-- Bulkhead schema, version 2: outbound calls, call runs, dialer settings, do-not-call list.
-- The calls table is the single source of truth for a business's active calls (runs and direct
-- calls alike); docs/DIALER.md explains the data model and the slot algorithm.

-- Per-business dialer rules. No row = the defaults (calling hours from DIALER_CALLING_HOURS, no
-- retries, DIALER_MAX_CALL_S). Times are wall-clock times in businesses.timezone.
CREATE TABLE dialer_settings (
  business_id        bigint PRIMARY KEY REFERENCES businesses(id) ON DELETE CASCADE,
  calling_start      time,
  calling_end        time,
  retry_busy         int  NOT NULL DEFAULT 0 CHECK (retry_busy BETWEEN 0 AND 10),
  retry_no_answer    int  NOT NULL DEFAULT 0 CHECK (retry_no_answer BETWEEN 0 AND 10),
  retry_delay_s      int  NOT NULL DEFAULT 900 CHECK (retry_delay_s BETWEEN 1 AND 604800),
  max_call_s         int  CHECK (max_call_s BETWEEN 10 AND 14400),
  updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dnc_numbers (
  business_id bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  phone       text        NOT NULL,
  reason      text,
  created_by  bigint      REFERENCES users(id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, phone)
);

-- A run is an enqueue_outbound_calls job; its items are the leads to call, one row per lead.
CREATE TABLE outbound_runs (
  id          bigserial PRIMARY KEY,
  business_id bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  job_id      bigint      NOT NULL UNIQUE,
  concurrency int         NOT NULL CHECK (concurrency BETWEEN 1 AND 1000),
  -- Round-robin across a business's runs: the run that got a slot longest ago goes first.
  last_dial_at timestamptz NOT NULL DEFAULT '-infinity',
  created_by  bigint      REFERENCES users(id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbound_runs_business ON outbound_runs (business_id, id);

CREATE TABLE run_items (
  id              bigserial PRIMARY KEY,
  business_id     bigint      NOT NULL,
  run_id          bigint      NOT NULL REFERENCES outbound_runs(id) ON DELETE CASCADE,
  lead_id         bigint      NOT NULL,
  phone           text        NOT NULL,
  status          text        NOT NULL DEFAULT 'queued'
                  CHECK (status IN ('queued', 'dialing', 'calling', 'completed', 'busy', 'no_answer', 'failed', 'cancelled', 'skipped')),
  attempts        int         NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  call_id         bigint,
  error           text,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (run_id, lead_id)
);
CREATE INDEX run_items_due ON run_items (run_id, next_attempt_at, id) WHERE status = 'queued';
CREATE INDEX run_items_business_queued ON run_items (business_id) WHERE status = 'queued';

CREATE TABLE calls (
  id               bigserial PRIMARY KEY,
  business_id      bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  lead_id          bigint,
  run_id           bigint,
  run_item_id      bigint,
  attempt          int         NOT NULL DEFAULT 1,
  direction        text        NOT NULL DEFAULT 'outbound-api',
  from_number      text        NOT NULL,
  to_number        text        NOT NULL,
  -- 'dialing': claimed by us, the provider has not confirmed it yet (no sid). The others are
  -- Twilio's call statuses; a call only ever moves forward (outbound/call-status.ts).
  status           text        NOT NULL DEFAULT 'dialing'
                   CHECK (status IN ('dialing', 'queued', 'initiated', 'ringing', 'in-progress',
                                     'completed', 'busy', 'no-answer', 'failed', 'canceled')),
  call_sid         text        UNIQUE,
  duration_s       int,
  error            text,
  recording_sid    text,
  recording_status text,
  recording_duration_s int,
  created_at       timestamptz NOT NULL DEFAULT now(),
  answered_at      timestamptz,
  ended_at         timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  -- When the sweeper last asked the provider (or a callback last told us) about this call.
  checked_at       timestamptz NOT NULL DEFAULT now()
);
-- A lead is never in two active calls at once, whoever placed them.
CREATE UNIQUE INDEX calls_lead_active ON calls (business_id, lead_id)
  WHERE status IN ('dialing', 'queued', 'initiated', 'ringing', 'in-progress') AND lead_id IS NOT NULL;
CREATE INDEX calls_business_active ON calls (business_id, run_id)
  WHERE status IN ('dialing', 'queued', 'initiated', 'ringing', 'in-progress');
CREATE INDEX calls_active_checked ON calls (checked_at)
  WHERE status IN ('dialing', 'queued', 'initiated', 'ringing', 'in-progress');
-- One call per attempt of a run item, ever: a crash can never produce a second call for it.
CREATE UNIQUE INDEX calls_item_attempt ON calls (run_item_id, attempt) WHERE run_item_id IS NOT NULL;
CREATE INDEX calls_business_id ON calls (business_id, id);
CREATE INDEX calls_business_lead ON calls (business_id, lead_id, id);

-- The account's calls-per-second budget, shared by every process: one row, "the earliest time
-- the next call may be placed" (GCRA). outbound/cps.ts reserves from it.
CREATE TABLE dialer_cps (
  id      int PRIMARY KEY CHECK (id = 1),
  next_at timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO dialer_cps (id) VALUES (1);
