-- Known login devices (OWASP "device cookies"): after a successful login the browser keeps
-- a long-lived random cookie bound to the account; a later login of that account
-- presenting it is served ahead of the anonymous password-check queue and is not held by
-- the per-address lockout. Only the token's SHA-256 is kept; the rows end with the
-- account's password or its disabling.
CREATE TABLE login_devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash TEXT NOT NULL UNIQUE,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_devices_account ON login_devices (account_id);
