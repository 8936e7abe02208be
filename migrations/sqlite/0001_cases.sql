-- Cases, their event timeline (the delivery outbox) and evidence files. SQLite.
-- Times are Unix milliseconds (UTC) in INTEGER columns, as on PostgreSQL.
-- Keep this file identical in meaning to migrations/postgres/0001_cases.sql.

CREATE TABLE cases (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    dedupe_key       TEXT    NOT NULL UNIQUE,
    state            TEXT    NOT NULL CHECK (state IN ('candidate', 'confirmed', 'rejected',
                         'field_check', 'submitted', 'filed', 'dispatched', 'handled', 'closed',
                         'verified_by_video')),
    camera           TEXT    NOT NULL,
    category         TEXT    NOT NULL,
    event_code       TEXT    NOT NULL,
    event_name       TEXT    NOT NULL,
    score            REAL    NOT NULL,
    bbox_x1          REAL    NOT NULL,  -- normalised 0..1
    bbox_y1          REAL    NOT NULL,
    bbox_x2          REAL    NOT NULL,
    bbox_y2          REAL    NOT NULL,
    lat              REAL,              -- WGS84 degrees
    lon              REAL,
    grid_code        TEXT,
    community        TEXT,
    street           TEXT,
    unit             TEXT,
    zone             TEXT,
    arrived_at       INTEGER NOT NULL,
    detected_at      INTEGER NOT NULL,
    recurrence_of    INTEGER REFERENCES cases (id),
    recurrence_count INTEGER NOT NULL CHECK (recurrence_count >= 0),
    external_id      TEXT UNIQUE,
    notes            TEXT    NOT NULL DEFAULT '',
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

-- Listing pages by (created_at DESC, id DESC), unfiltered and by each equality filter.
CREATE INDEX cases_created ON cases (created_at, id);
CREATE INDEX cases_state_created ON cases (state, created_at, id);
CREATE INDEX cases_camera_created ON cases (camera, created_at, id);
CREATE INDEX cases_category_created ON cases (category, created_at, id);
CREATE INDEX cases_grid_created ON cases (grid_code, created_at, id);
CREATE INDEX cases_street_created ON cases (street, created_at, id);
CREATE INDEX cases_recurrence_of ON cases (recurrence_of);

CREATE TABLE case_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- the outbox cursor: never reused
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('created', 'transition', 'reclassified', 'note',
                   'external_status', 'evidence')),
    from_state TEXT,
    to_state   TEXT,
    reason     TEXT,
    data       TEXT    NOT NULL DEFAULT '{}'  -- JSON object
);

CREATE INDEX case_events_case ON case_events (case_id, id);

CREATE TABLE evidence (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    kind       TEXT    NOT NULL CHECK (kind IN ('frame', 'crop', 'clip')),
    path       TEXT    NOT NULL,  -- relative to the data directory
    sha256     TEXT    NOT NULL,
    bytes      INTEGER NOT NULL CHECK (bytes >= 0),
    mime       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE INDEX evidence_case ON evidence (case_id, id);
