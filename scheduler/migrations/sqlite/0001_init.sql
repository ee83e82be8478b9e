-- Units, halls, accounts, sessions, meetings and invitations (SQLite dialect).
CREATE TABLE units (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL,
    parent_id BIGINT REFERENCES units(id),
    level TEXT NOT NULL,
    depth BIGINT NOT NULL,
    division_type TEXT NOT NULL,
    name TEXT NOT NULL,
    search_name TEXT NOT NULL,
    path TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    UNIQUE (code, valid_from)
);
CREATE INDEX units_parent ON units(parent_id);
CREATE INDEX units_path ON units(path);

CREATE TABLE halls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit_id BIGINT NOT NULL REFERENCES units(id),
    name TEXT NOT NULL,
    feed_token TEXT NOT NULL UNIQUE,
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);
CREATE INDEX halls_unit ON halls(unit_id);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    unit_id BIGINT REFERENCES units(id),
    hall_id BIGINT REFERENCES halls(id),
    active BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE meetings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    series_id TEXT,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    host_hall_id BIGINT NOT NULL REFERENCES halls(id),
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    scope_root_unit_id BIGINT NOT NULL REFERENCES units(id),
    scope_levels TEXT NOT NULL,
    recurrence TEXT,
    override_reason TEXT,
    sequence BIGINT NOT NULL DEFAULT 0,
    created_by BIGINT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX meetings_time ON meetings(starts_at, ends_at);

CREATE TABLE meeting_scope_halls (
    meeting_id BIGINT NOT NULL REFERENCES meetings(id),
    hall_id BIGINT NOT NULL REFERENCES halls(id),
    mode TEXT NOT NULL,
    PRIMARY KEY (meeting_id, hall_id)
);

CREATE TABLE invitations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id BIGINT NOT NULL REFERENCES meetings(id),
    hall_id BIGINT NOT NULL REFERENCES halls(id),
    join_token TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    UNIQUE (meeting_id, hall_id)
);
CREATE INDEX invitations_hall ON invitations(hall_id);

CREATE TABLE meeting_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meeting_id BIGINT NOT NULL REFERENCES meetings(id),
    at BIGINT NOT NULL,
    account_id BIGINT REFERENCES accounts(id),
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX meeting_events_meeting ON meeting_events(meeting_id);
