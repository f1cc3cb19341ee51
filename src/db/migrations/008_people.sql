-- People: roles, passwords, invites, sessions, named tokens, failed-login throttling and the
-- append-only audit trail (README "People, roles and the audit trail"; src/people/).

-- Users that existed before roles were the only people of their business: they become owners.
-- New users are agents unless someone who may grant more says otherwise.
ALTER TABLE users
  ADD COLUMN role text NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'admin', 'agent')),
  ADD COLUMN password_hash text,
  ADD COLUMN disabled boolean NOT NULL DEFAULT false,
  ADD COLUMN invite_hash bytea UNIQUE,
  ADD COLUMN invite_expires_at timestamptz,
  ADD COLUMN last_login_at timestamptz;
ALTER TABLE users ALTER COLUMN role SET DEFAULT 'agent';

-- Sign-in is by email alone, so an email that can sign in belongs to one business. Only users
-- with a password count: the placeholder users of scripts and tests may share an address.
CREATE UNIQUE INDEX users_login_email ON users (lower(email)) WHERE password_hash IS NOT NULL;
CREATE INDEX users_business_role ON users (business_id, role) WHERE NOT disabled;

-- Tokens minted before roles belonged to those owners; the column keeps a token from ever acting
-- above the role it was created with (the effective role is the lower of it and its user's).
ALTER TABLE api_tokens
  ADD COLUMN id bigserial UNIQUE,
  ADD COLUMN name text NOT NULL DEFAULT 'default',
  ADD COLUMN role text NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'admin', 'agent'));
CREATE INDEX api_tokens_business ON api_tokens (business_id, id);

-- A dashboard session: a random id in an httpOnly cookie, stored hashed like tokens, with the
-- hash of its CSRF token (double submit, bound to the session). Revoking is deleting the row.
CREATE TABLE sessions (
  id_hash      bytea PRIMARY KEY,
  user_id      bigint      NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  business_id  bigint      NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
  csrf_hash    bytea       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  ip           text,
  user_agent   text
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- Failed sign-ins per email (lower-cased), counted over a sliding 15 minutes.
CREATE TABLE login_failures (
  email text        NOT NULL,
  at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email_at ON login_failures (email, at);

-- The audit trail. Written in the transaction of the action it records. No foreign keys: an
-- entry outlives what it names, and a cascade would be a delete the trigger below refuses.
CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  business_id bigint      NOT NULL,
  at          timestamptz NOT NULL DEFAULT now(),
  user_id     bigint,
  user_email  text,
  token_id    bigint,
  action      text        NOT NULL,
  target_type text,
  target_id   text,
  details     jsonb       NOT NULL DEFAULT '{}'::jsonb,
  ip          text
);
CREATE INDEX audit_log_business ON audit_log (business_id, id DESC);
CREATE INDEX audit_log_business_action ON audit_log (business_id, action, id DESC);
CREATE INDEX audit_log_business_user ON audit_log (business_id, user_id, id DESC);
CREATE INDEX audit_log_at ON audit_log (at);

-- Append-only, in the database itself: every UPDATE, DELETE and TRUNCATE is refused, whoever
-- sends it. The one exception is the retention prune (src/people/audit.repo.ts), which sets
-- bulkhead.audit_prune_days for its transaction; even then only rows older than that many days
-- (at least 1) can go, so the setting cannot be used to erase what just happened.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  keep_days int;
BEGIN
  IF TG_OP = 'DELETE' THEN
    BEGIN
      keep_days := nullif(current_setting('bulkhead.audit_prune_days', true), '')::int;
    EXCEPTION WHEN invalid_text_representation THEN
      keep_days := NULL;
    END;
    IF keep_days IS NOT NULL AND keep_days >= 1 AND OLD.at < now() - make_interval(days => keep_days) THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
