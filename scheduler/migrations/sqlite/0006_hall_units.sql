-- Which unit each hall belonged to when (issue 13): a hall keeps its id, accounts, feed
-- and attendance when its commune is reorganised, and moves to the new unit from the
-- reform's date; reports of earlier meetings name the unit of the meeting's date.
-- halls.unit_id stays the hall's current unit; valid_from/valid_to are ISO dates, the
-- last day included, as for units.
CREATE TABLE hall_units (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hall_id BIGINT NOT NULL REFERENCES halls(id),
    unit_id BIGINT NOT NULL REFERENCES units(id),
    valid_from TEXT NOT NULL,
    valid_to TEXT
);
CREATE INDEX hall_units_hall ON hall_units(hall_id, valid_from);
CREATE INDEX hall_units_unit ON hall_units(unit_id);

-- Every hall so far has been on its unit since the unit began.
INSERT INTO hall_units (hall_id, unit_id, valid_from, valid_to)
SELECT h.id, h.unit_id, u.valid_from, NULL FROM halls h JOIN units u ON u.id = h.unit_id;
