-- A roll call (điểm danh) is closed by the host or the secretariat: answers after that
-- are refused, and invited halls that gave none count as absent without an answer.
ALTER TABLE roll_calls ADD COLUMN ended_at BIGINT;
ALTER TABLE roll_calls ADD COLUMN ended_by BIGINT REFERENCES accounts(id);
