-- Evidence kind 'scene': the full frame without the box drawn (training data, `dataset export`).
-- 0001 declared the CHECK on the column without a name, so PostgreSQL named it
-- <table>_<column>_check: evidence_kind_check. Replace it, under the same name.
-- Version 3: version 2 is taken by a change written in parallel.
-- Keep this file identical in meaning to migrations/sqlite/0003_scene_evidence.sql.

ALTER TABLE evidence DROP CONSTRAINT evidence_kind_check;
ALTER TABLE evidence ADD CONSTRAINT evidence_kind_check
    CHECK (kind IN ('frame', 'crop', 'clip', 'scene'));
