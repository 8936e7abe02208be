-- The console's own tables: users and their sessions/API tokens, cameras managed from the
-- admin console, and settings changed there (grid layer, category table). SQLite.
-- Times are Unix milliseconds (UTC). Keep this file identical in meaning to
-- migrations/postgres/0002_console.sql.

CREATE TABLE users (
    name          TEXT    PRIMARY KEY,
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'operator', 'inspector', 'viewer')),
    password_hash TEXT    NOT NULL,  -- argon2id PHC string
    groups        TEXT    NOT NULL DEFAULT '',  -- camera groups, comma-separated; '' = all
    created_at    INTEGER NOT NULL
);

-- Login sessions (cookie) and API tokens (Bearer); only a SHA-256 of the secret is kept.
CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY,
    user_name  TEXT    NOT NULL REFERENCES users (name) ON DELETE CASCADE,
    kind       TEXT    NOT NULL CHECK (kind IN ('session', 'token')),
    label      TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER  -- NULL: does not expire (API tokens)
);

CREATE INDEX sessions_user ON sessions (user_name);

-- Cameras added or changed in the admin console; they override the pipeline file's cameras of
-- the same id. deleted = 1 hides a camera of the pipeline file too.
CREATE TABLE console_cameras (
    id         TEXT    PRIMARY KEY,
    doc        TEXT    NOT NULL,  -- JSON: the camera as the API takes it, without password
    password   TEXT,              -- write-only through the API
    deleted    INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
);

CREATE TABLE settings (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
