-- The organisation registry: number, name and kind of every organisation samvirke knows, as
-- imported from Enhetsregisteret's open data (`samvirke organisations import`). Kinds decide
-- where referrals may go, who decides forwarded complaints and where roles may be held; names
-- are what patients see. organisation_id is the organisation number itself.
CREATE TABLE organisations (
    organisation_id TEXT   NOT NULL PRIMARY KEY,
    name            TEXT   NOT NULL,
    kind            TEXT   NOT NULL CHECK (kind IN ('municipality', 'health_trust', 'nav_office',
                        'school', 'kindergarten', 'child_welfare', 'county_governor', 'other')),
    form_code       TEXT   NOT NULL,
    update_time     BIGINT NOT NULL
);
CREATE INDEX organisations_by_kind ON organisations (kind, organisation_id);
