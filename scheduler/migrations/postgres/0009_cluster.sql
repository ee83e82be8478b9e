-- Several nodes on one database (docs/cluster.md), PostgreSQL dialect.
-- Every attendance interval and every recorded change carries the node that wrote it
-- ('local' for a node without a cluster section, and for rows written before this), so a
-- node's start-up recovery closes only the intervals it left open itself.
ALTER TABLE attendance_sessions ADD COLUMN node_id TEXT NOT NULL DEFAULT 'local';
ALTER TABLE guest_sessions ADD COLUMN node_id TEXT NOT NULL DEFAULT 'local';
ALTER TABLE attendance_changes ADD COLUMN node_id TEXT NOT NULL DEFAULT 'local';
CREATE INDEX attendance_sessions_node_open ON attendance_sessions(node_id, left_at);
CREATE INDEX guest_sessions_node_open ON guest_sessions(node_id, left_at);

-- Each live meeting's home node: the one node whose room owns the meeting's state. The
-- lease lasts until expires_at (UTC Unix seconds) unless renewed; a node that finds it
-- expired (its holder died) takes it over and adds one to epoch, the fencing number
-- that tells a holder whether the lease is still its own. A released lease keeps its
-- row (expires_at 0), so the epoch only ever grows.
CREATE TABLE meeting_leases (
    meeting_id BIGINT PRIMARY KEY REFERENCES meetings(id),
    node_id TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    taken_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
