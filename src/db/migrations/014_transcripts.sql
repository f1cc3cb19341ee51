-- Transcripts of recorded calls (issue 16; API.md "Transcripts and receipts from Gmail"). One row
-- per call, written by the `transcribe_call` job (src/transcripts/). `status` is what the API
-- answers: pending while a job is queued or running, completed with text and timed segments,
-- failed with the provider's reason (a permanent error is never retried forever).
--
-- Search (GET /calls?q=) uses the `simple` full-text configuration: PostgreSQL has no Hebrew
-- stemmer, and `simple` lower-cases and splits Hebrew and English words alike without needing an
-- extension (pg_trgm is measured beside it in bench/transcript-search.ts; docs/BENCHMARKS.md has
-- the numbers and why this won). The tsvector is a generated column so no writer can forget it.
CREATE TABLE transcripts (
  id           bigserial   PRIMARY KEY,
  business_id  bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  call_id      bigint      NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
  call_sid     text        NOT NULL,
  status       text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed', 'failed')),
  language     text,
  text         text,
  segments     jsonb       NOT NULL DEFAULT '[]'::jsonb,
  error        text,
  attempts     int         NOT NULL DEFAULT 0,
  search       tsvector    GENERATED ALWAYS AS (to_tsvector('simple', coalesce(text, ''))) STORED,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  UNIQUE (business_id, call_id)
);
CREATE UNIQUE INDEX transcripts_call_sid ON transcripts (business_id, call_sid);
CREATE INDEX transcripts_call ON transcripts (call_id);
CREATE INDEX transcripts_search ON transcripts USING gin (search);
