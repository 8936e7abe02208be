-- Evidence kind 'scene': the full frame without the box drawn (training data, `dataset export`).
-- SQLite cannot change a CHECK constraint, so the evidence table is rebuilt: same columns, same
-- ids, same index. Nothing references evidence rows by foreign key (events name their ids in
-- JSON), so dropping the old table breaks no link.
-- Version 3: version 2 is taken by a change written in parallel.
-- Keep this file identical in meaning to migrations/postgres/0003_scene_evidence.sql.

CREATE TABLE evidence_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    kind       TEXT    NOT NULL CHECK (kind IN ('frame', 'crop', 'clip', 'scene')),
    path       TEXT    NOT NULL,  -- relative to the data directory
    sha256     TEXT    NOT NULL,
    bytes      INTEGER NOT NULL CHECK (bytes >= 0),
    mime       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

INSERT INTO evidence_new (id, case_id, kind, path, sha256, bytes, mime, created_at)
    SELECT id, case_id, kind, path, sha256, bytes, mime, created_at FROM evidence;

-- AUTOINCREMENT never reuses an id: carry the old table's high-water mark over (it can be above
-- the largest id copied if rows were ever deleted). The rename below renames this row too.
DELETE FROM sqlite_sequence WHERE name = 'evidence_new';
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'evidence_new', seq FROM sqlite_sequence WHERE name = 'evidence';

DROP TABLE evidence;
ALTER TABLE evidence_new RENAME TO evidence;

CREATE INDEX evidence_case ON evidence (case_id, id);
