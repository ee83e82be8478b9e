-- Feeds of a meeting: ingest tokens (WHIP: a national conference, OBS, a presentation PC
-- publishes into the meeting as a named source) and viewer tokens (WHEP: a TV station,
-- a lobby screen, an archive pulls the main picture and the halls' audio). Tokens are
-- stored hashed (SHA-256, hex); the clear token is shown once, when made (SQLite dialect).
CREATE TABLE meeting_feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id BIGINT NOT NULL REFERENCES meetings(id),
    kind TEXT NOT NULL CHECK (kind IN ('ingest', 'viewer')),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by BIGINT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_by BIGINT REFERENCES accounts(id)
);
CREATE INDEX meeting_feeds_meeting ON meeting_feeds(meeting_id);

-- A live event about an ingest source (given the floor, put in the spotlight …) names
-- it here; its hall_id stays empty.
ALTER TABLE attendance_events ADD COLUMN feed_id BIGINT REFERENCES meeting_feeds(id);
