-- Every attendance change a live room recorded, by the id the attendance writer gave it:
-- a change replayed from the writer's journal (after a database outage or a crash) is
-- recognised here and never written twice.
CREATE TABLE attendance_changes (
    change_id TEXT PRIMARY KEY,
    meeting_id BIGINT NOT NULL,
    written_at BIGINT NOT NULL
);

-- A roll call started by a live room carries the id of the change that started it, so
-- the answers and the end recorded after it find it again, also when replayed after a
-- restart (the room's own numbers for roll calls do not outlive the process).
ALTER TABLE roll_calls ADD COLUMN change_id TEXT;
CREATE UNIQUE INDEX roll_calls_change_id ON roll_calls (change_id);
