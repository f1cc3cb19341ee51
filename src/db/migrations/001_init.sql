-- Bulkhead schema, version 1: tenancy, leads, receipts, the job engine, the gate.
-- Every tenant table carries business_id; every statement on tenant data filters by it.

CREATE TABLE businesses (
  id                 bigserial PRIMARY KEY,
  name               text        NOT NULL,
  max_outbound_calls int         NOT NULL DEFAULT 3 CHECK (max_outbound_calls BETWEEN 1 AND 1000),
  timezone           text        NOT NULL DEFAULT 'UTC',
  default_country    text        NOT NULL DEFAULT 'US',
  rate_limits        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id          bigserial PRIMARY KEY,
  business_id bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  email       text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, email)
);

-- Tokens are 144 random bits; a SHA-256 of them is enough (no password stretching needed) and
-- lets auth be one indexed lookup.
CREATE TABLE api_tokens (
  token_hash  bytea PRIMARY KEY,
  user_id     bigint      NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  business_id bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);

CREATE TABLE imports (
  id          bigserial PRIMARY KEY,
  business_id bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  job_id      bigint,
  filename    text,
  status      text        NOT NULL DEFAULT 'queued',
  total       int         NOT NULL DEFAULT 0,
  inserted    int         NOT NULL DEFAULT 0,
  duplicates  int         NOT NULL DEFAULT 0,
  invalid     int         NOT NULL DEFAULT 0,
  errors      jsonb       NOT NULL DEFAULT '[]'::jsonb,
  created_by  bigint      REFERENCES users(id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX imports_business ON imports (business_id, id DESC);

-- The raw rows of an import wait here, in chunks, until the import job turns them into leads.
-- A chunk is a JSON array kept as text: staging 100 000 rows as one jsonb row each took ~1.1 s of
-- the request, as text chunks ~80 ms (bench numbers in docs/BENCHMARKS.md); the job parses a
-- chunk in the worker, where the time is spent anyway.
CREATE TABLE import_chunks (
  import_id    bigint NOT NULL REFERENCES imports(id) ON DELETE CASCADE,
  first_row_no int    NOT NULL,
  row_count    int    NOT NULL,
  rows         text   NOT NULL,
  PRIMARY KEY (import_id, first_row_no)
);

CREATE TABLE leads (
  id            bigserial PRIMARY KEY,
  business_id   bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  name          text,
  phone         text        NOT NULL,
  email         text,
  status        text        NOT NULL DEFAULT 'new',
  tags          text[]      NOT NULL DEFAULT '{}',
  source        text        NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'import')),
  import_id     bigint      REFERENCES imports(id) ON DELETE SET NULL,
  owner_user_id bigint      REFERENCES users(id) ON DELETE SET NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (business_id, phone)
);
CREATE INDEX leads_business_id ON leads (business_id, id);
CREATE INDEX leads_business_import ON leads (business_id, import_id, id) WHERE import_id IS NOT NULL;
CREATE INDEX leads_business_source ON leads (business_id, source, id);
CREATE INDEX leads_tags ON leads USING gin (tags);

-- Children cascade with their lead, so a batch deletes a lead and its children in one statement.
CREATE TABLE lead_notes (
  id          bigserial PRIMARY KEY,
  business_id bigint      NOT NULL,
  lead_id     bigint      NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  text        text        NOT NULL,
  created_by  bigint,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_notes_lead ON lead_notes (lead_id);

CREATE TABLE lead_activities (
  id          bigserial PRIMARY KEY,
  business_id bigint      NOT NULL,
  lead_id     bigint      NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  type        text        NOT NULL,
  text        text        NOT NULL,
  created_by  bigint,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_activities_lead ON lead_activities (lead_id);

CREATE TABLE lead_reminders (
  id          bigserial PRIMARY KEY,
  business_id bigint      NOT NULL,
  lead_id     bigint      NOT NULL REFERENCES leads(id) ON DELETE CASCADE,
  due_at      timestamptz NOT NULL,
  text        text        NOT NULL,
  created_by  bigint,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_reminders_lead ON lead_reminders (lead_id);

CREATE TABLE receipts (
  id          bigserial PRIMARY KEY,
  business_id bigint         NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  vendor      text           NOT NULL,
  amount      numeric(14, 2) NOT NULL,
  currency    text           NOT NULL,
  issued_at   timestamptz    NOT NULL,
  created_at  timestamptz    NOT NULL DEFAULT now()
);
CREATE INDEX receipts_business ON receipts (business_id, id);

-- ---------------------------------------------------------------------------------------------
-- The job engine. A job's row is also its gate lock: the partial unique index below over the
-- active statuses is taken by the INSERT and released by the UPDATE that makes the job terminal.

CREATE TABLE workers (
  id           text PRIMARY KEY,
  hostname     text        NOT NULL,
  pid          int         NOT NULL,
  queues       text[]      NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  stopped_at   timestamptz
);

CREATE TABLE jobs (
  id                   bigserial PRIMARY KEY,
  business_id          bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  type                 text        NOT NULL,
  queue                text        NOT NULL,
  priority             int         NOT NULL DEFAULT 0,
  status               text        NOT NULL DEFAULT 'queued'
                       CHECK (status IN ('queued', 'running', 'paused', 'completed', 'failed', 'cancelled')),
  params               jsonb       NOT NULL DEFAULT '{}'::jsonb,
  -- Large id lists (up to 100 000 lead ids) live outside params so job listings stay small.
  targets              bigint[],
  params_hash          text        NOT NULL,
  lock_key             text,
  total                int         NOT NULL DEFAULT 0,
  processed            int         NOT NULL DEFAULT 0,
  succeeded            int         NOT NULL DEFAULT 0,
  failed               int         NOT NULL DEFAULT 0,
  checkpoint           jsonb,
  result               jsonb,
  last_error           text,
  attempts             int         NOT NULL DEFAULT 0,
  consecutive_failures int         NOT NULL DEFAULT 0,
  cancel_requested     boolean     NOT NULL DEFAULT false,
  run_at               timestamptz NOT NULL DEFAULT now(),
  locked_by            text,
  locked_at            timestamptz,
  created_by           bigint      REFERENCES users(id) ON DELETE SET NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  started_at           timestamptz,
  heartbeat_at         timestamptz,
  finished_at          timestamptz,
  updated_at           timestamptz NOT NULL DEFAULT now(),
  CHECK ((status IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
) WITH (fillfactor = 80);
-- fillfactor 80: a progress UPDATE touches no indexed column, so with free space on the page it
-- is a HOT update (no index writes); jobs rows are updated once per batch.

CREATE UNIQUE INDEX jobs_active_lock ON jobs (business_id, lock_key)
  WHERE status IN ('queued', 'running', 'paused') AND lock_key IS NOT NULL;
-- The claim reads queued jobs in (priority, run_at, id) order across the worker's queues; with
-- queue as the leading column, `queue = ANY(…)` over several queues cannot use the index order
-- and sorts every queued row (bench/engine.ts: 772 → 2 003 no-op jobs/s with this index).
CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, id) WHERE status = 'queued';
CREATE INDEX jobs_locked_by ON jobs (locked_by) WHERE locked_by IS NOT NULL;
CREATE INDEX jobs_business_created ON jobs (business_id, id DESC);
CREATE INDEX jobs_gate ON jobs (business_id, type, created_at);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- Wake-ups and progress go through NOTIFY so that any worker and any API process sees them.
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'queued' AND (TG_OP = 'INSERT' OR OLD.status <> 'queued' OR OLD.run_at <> NEW.run_at) THEN
    PERFORM pg_notify('bulkhead_queue', NEW.queue);
  END IF;
  IF TG_OP = 'UPDATE' THEN
    PERFORM pg_notify('bulkhead_job', NEW.business_id || ':' || NEW.id || ':' || NEW.status);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_notify();

CREATE TABLE idempotency_keys (
  business_id  bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  key          text        NOT NULL,
  request_hash text        NOT NULL,
  status_code  int         NOT NULL,
  response     jsonb       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (business_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
