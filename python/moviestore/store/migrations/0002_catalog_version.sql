-- The catalog version, bumped in the same transaction that changes `movies`: whoever reads it
-- (the API's cache keys) can never see a version before the rows it stands for commit.
CREATE TABLE catalog_state (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version   bigint  NOT NULL DEFAULT 0
);
INSERT INTO catalog_state DEFAULT VALUES;

-- The notices of a file (dead-letter message, SNS, cache refresh) are sent after its commit;
-- a worker dying in between leaves this NULL, and the next delivery of the message sends them.
ALTER TABLE ingestions ADD COLUMN notified_at timestamptz;

-- Sorted pages of the API walk these with a keyset (sort key, id): no sort of all matches.
DROP INDEX movies_year;
CREATE INDEX movies_year_id ON movies (year, id);
CREATE INDEX movies_title_id ON movies (title, id);
