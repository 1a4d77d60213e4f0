-- Each city's IANA time zone: a sale's business day is its time in its store's city's zone, whatever
-- the database servers' own zone. Cities are replicated to every node (they carry the zone), so they get
-- a version like every replicated table. Existing cities are the chain's first ones, in Pakistan.
-- The CHECK asks PostgreSQL itself whether it knows the zone (an unknown one raises 22023).
ALTER TABLE cities
    ADD COLUMN time_zone text NOT NULL DEFAULT 'Asia/Karachi'
        CHECK (time_zone ~ '^[A-Za-z]+(/[A-Za-z0-9_+-]+)*$' AND (now() AT TIME ZONE time_zone) IS NOT NULL),
    ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE cities ALTER COLUMN time_zone DROP DEFAULT;
ALTER TYPE replicated_table ADD VALUE 'cities' BEFORE 'categories';
