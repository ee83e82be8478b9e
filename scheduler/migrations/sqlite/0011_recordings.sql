-- Recordings of meetings (docs/recording.md), SQLite dialect. One row per recording, written when
-- it starts (status 'recording') and finished when it ends: 'finished', or 'failed' with
-- the recorder's error code. A node's start-up marks the rows it left 'recording' (a
-- crash) 'interrupted'; an administrator's delete makes them 'deleted' (who and when
-- kept; the file removed); the retention sweep makes old ones 'expired'. file is the
-- WebM's path relative to the recordings directory; instants are UTC Unix seconds.
-- Numbered 0011 though added after 0013: sqlx applies any migration not yet applied,
-- whatever its number, so a database already at 0013 gets it too.
CREATE TABLE recordings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id BIGINT NOT NULL REFERENCES meetings(id),
    file TEXT NOT NULL,
    node_id TEXT NOT NULL,
    started_by TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    duration_ms BIGINT,
    bytes BIGINT,
    status TEXT NOT NULL DEFAULT 'recording' CHECK (status IN
        ('recording', 'finished', 'failed', 'interrupted', 'deleted', 'expired')),
    error_code TEXT,
    deleted_by BIGINT REFERENCES accounts(id),
    deleted_at BIGINT
);
CREATE INDEX recordings_meeting ON recordings(meeting_id);
CREATE INDEX recordings_status ON recordings(status, node_id);
