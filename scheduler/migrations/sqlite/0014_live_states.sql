-- The live state of a meeting's room (docs/cluster.md, "The room's live state"), SQLite dialect:
-- what the room holds beside the recorded phase and the rows already kept (roll calls,
-- answers, headcounts) — floor, spotlight, hands, mutes, lock, removals, the halls seen,
-- the roll call's number on the pages, a running recording — as JSON, written by the
-- meeting's home room when it changes (coalesced) and read by the room that opens next
-- (another node after a drain or a fail-over, or this node after a restart). A write
-- names the lease epoch it was made under and is refused once another node took the
-- lease (node_id, epoch: who wrote it last). Instants are UTC Unix seconds.
CREATE TABLE meeting_live_states (
    meeting_id BIGINT PRIMARY KEY REFERENCES meetings(id),
    node_id TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    written_at BIGINT NOT NULL,
    state TEXT NOT NULL
);
