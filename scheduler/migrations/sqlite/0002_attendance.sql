-- Live meeting lifecycle and durable attendance: presence intervals, the event log,
-- roll calls and headcounts (SQLite dialect).
ALTER TABLE meetings ADD COLUMN started_at BIGINT;
ALTER TABLE meetings ADD COLUMN ended_at BIGINT;

CREATE TABLE attendance_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id BIGINT NOT NULL REFERENCES meetings(id),
    hall_id BIGINT NOT NULL REFERENCES halls(id),
    joined_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    disconnected_at BIGINT,
    left_at BIGINT,
    leave_reason TEXT,
    reconnects BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX attendance_sessions_meeting ON attendance_sessions(meeting_id, hall_id);
CREATE INDEX attendance_sessions_open ON attendance_sessions(left_at);

CREATE TABLE attendance_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id BIGINT NOT NULL REFERENCES meetings(id),
    hall_id BIGINT REFERENCES halls(id),
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    account_id BIGINT REFERENCES accounts(id)
);
CREATE INDEX attendance_events_meeting ON attendance_events(meeting_id, at);

CREATE TABLE roll_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id BIGINT NOT NULL REFERENCES meetings(id),
    started_at BIGINT NOT NULL,
    started_by BIGINT REFERENCES accounts(id)
);

CREATE TABLE roll_call_answers (
    roll_call_id BIGINT NOT NULL REFERENCES roll_calls(id),
    hall_id BIGINT NOT NULL REFERENCES halls(id),
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    answered_at BIGINT NOT NULL,
    marked_by BIGINT REFERENCES accounts(id),
    PRIMARY KEY (roll_call_id, hall_id)
);

CREATE TABLE headcounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id BIGINT NOT NULL REFERENCES meetings(id),
    hall_id BIGINT NOT NULL REFERENCES halls(id),
    at BIGINT NOT NULL,
    people BIGINT NOT NULL
);
CREATE INDEX headcounts_meeting ON headcounts(meeting_id, hall_id);
