-- Head office's named accounts, their sessions, failed logins (the rate limit) and the audit trail of
-- master data. Passwords are Argon2id PHC strings; a session is known by its token's SHA-256 only.
CREATE TABLE accounts (
    id             serial      PRIMARY KEY,
    username       text        NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
    role           text        NOT NULL CHECK (role IN ('admin', 'manager', 'viewer')),
    password_hash  text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    disabled       boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A session without an account is one the admin token opened (a dashboard login link).
CREATE TABLE sessions (
    id            bigserial   PRIMARY KEY,
    account_id    integer     REFERENCES accounts (id) ON DELETE CASCADE,
    token_sha256  bytea       NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz
);
CREATE INDEX sessions_account_idx ON sessions (account_id) WHERE revoked_at IS NULL;

-- One row per refused login, by the name tried and the address it came from; old rows are purged.
CREATE TABLE login_failures (
    id         bigserial   PRIMARY KEY,
    username   text        NOT NULL,
    client_ip  text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_username_idx ON login_failures (username, at);
CREATE INDEX login_failures_client_idx ON login_failures (client_ip, at);

-- Every change of master data: who (the account, `admin-token`, or the database role when a change was
-- made outside the service), what, the row before and after, when. Written by triggers (audit.sql).
CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    action      text        NOT NULL CHECK (action IN ('create', 'update', 'delete')),
    entity      text        NOT NULL,
    entity_id   integer     NOT NULL,
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, id);
