-- Failed logins per account name and per client address, for throttling with a growing
-- delay (issue 11 F3). Kept in the database so a lockout survives a restart and holds on
-- every node; an administrator lists and clears them.
CREATE TABLE login_failures (
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    failures BIGINT NOT NULL,
    last_failure BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    PRIMARY KEY (kind, subject)
);
