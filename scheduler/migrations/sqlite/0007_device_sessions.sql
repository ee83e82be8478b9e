-- Device sessions (issue 11 item 3): a hall's room account stays signed in on its kiosk PC
-- for months. The token is kept only as a hash; `expires_at` slides forward while the
-- device is used (written at most hourly, with `last_used_at` and the address). An
-- administrator lists and revokes them per hall; disabling the hall or the account
-- deletes them.
CREATE TABLE device_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    device_name TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    address TEXT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    lifetime_secs BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX device_sessions_account ON device_sessions (account_id);
