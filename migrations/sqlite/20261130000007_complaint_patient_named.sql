-- Whether the complainant named the patient's identity number themselves. A representative
-- may name the patient by their plan alone; the complaint then never tells them the number.
ALTER TABLE complaints ADD COLUMN patient_named BIGINT NOT NULL DEFAULT 1;
