-- Guests (khách mời): someone who is not a hall — a department, an expert, a journalist
-- pool — invited to one meeting with its own join link, revocable; their presence
-- intervals are kept apart from the halls' so they are counted separately (SQLite dialect).
CREATE TABLE meeting_guests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id BIGINT NOT NULL REFERENCES meetings(id),
    name TEXT NOT NULL,
    organisation TEXT NOT NULL,
    phone TEXT NOT NULL,
    email TEXT NOT NULL,
    join_token TEXT NOT NULL UNIQUE,
    created_by BIGINT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_by BIGINT REFERENCES accounts(id)
);
CREATE INDEX meeting_guests_meeting ON meeting_guests(meeting_id);

CREATE TABLE guest_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id BIGINT NOT NULL REFERENCES meetings(id),
    guest_id BIGINT NOT NULL REFERENCES meeting_guests(id),
    joined_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    disconnected_at BIGINT,
    left_at BIGINT,
    leave_reason TEXT,
    reconnects BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX guest_sessions_meeting ON guest_sessions(meeting_id, guest_id);
CREATE INDEX guest_sessions_open ON guest_sessions(left_at);

-- A live event about a guest (joined, given the floor, removed …) names it here; its
-- hall_id stays empty.
ALTER TABLE attendance_events ADD COLUMN guest_id BIGINT REFERENCES meeting_guests(id);
