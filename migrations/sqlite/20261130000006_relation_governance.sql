-- Relations only the entitled can create. A representative's membership records its basis
-- (power_of_attorney, guardian, parent) and a reference to the decision behind it; a parent's
-- powers to act for the patient end when the patient turns 16 (powers_end_time), their
-- membership when the patient turns 18 (end_time). Existing representatives were authorised by
-- the patient: power of attorney.
ALTER TABLE members ADD COLUMN basis TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN basis_reference TEXT NOT NULL DEFAULT '';
ALTER TABLE members ADD COLUMN powers_end_time BIGINT;
UPDATE members SET basis = 'power_of_attorney' WHERE role = 'representative';

-- Who withdrew or replaced a consent, by relation (owner, representative, unit_staff, ...): a
-- withdrawal by the patient's side stands against consent given on their behalf.
ALTER TABLE consents ADD COLUMN withdrawn_by TEXT;
