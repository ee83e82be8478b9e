-- Fail-over (docs/cluster.md), PostgreSQL dialect: every node's lease watcher looks for
-- lapsed leases (0 < expires_at <= now) every third of the lease length; the index keeps
-- that look short however many meetings were ever leased.
CREATE INDEX meeting_leases_expiry ON meeting_leases(expires_at);
