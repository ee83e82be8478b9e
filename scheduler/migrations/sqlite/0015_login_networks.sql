-- Client networks (IPv4 /24, IPv6 /64) that logins come from: when a login from one last
-- succeeded and last failed (UTC seconds, 0: never). A login from a network some account
-- signed in from lately waits in a lane ahead of logins from never-seen networks; one
-- from a never-seen network that failed lately waits with the failing accounts' (see
-- scheduler/src/password_pool.rs). Rows with neither recent are deleted on the way.
CREATE TABLE login_networks (
    network TEXT PRIMARY KEY,
    last_success BIGINT NOT NULL,
    last_failure BIGINT NOT NULL
);
