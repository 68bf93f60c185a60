-- The change feed: which movies each catalog version changed. The API's processes ask "what
-- changed since version v" and apply just that to their search indexes and cached answers
-- instead of starting over (docs/api.md, "Changes").
--
-- An ingestion writes its changes (one row per movie it inserted, changed or withdrew) in its
-- own transaction, keyed by the ingestion (the version is only known at the commit); the
-- version bump at the end records which ingestion made the version, when, and how many movies
-- it changed. Every version has a row here, so a reader can tell a complete feed from one with
-- a gap (a version bumped by anything else): a gap, or a version older than `feed_horizon`,
-- means "rebuild from the catalog".
CREATE TABLE catalog_versions (
    version      bigint      PRIMARY KEY,
    ingestion_id bigint      NOT NULL REFERENCES ingestions (id),
    -- Taken at the bump, the last statement before the commit: freshness is measured from it.
    committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    movies       bigint      NOT NULL CHECK (movies >= 0)
);
CREATE INDEX catalog_versions_ingestion ON catalog_versions (ingestion_id);

-- No foreign key to ingestions: a check per row would cost a first load of 360,000 movies
-- as many index probes. Rows go with their version when the feed is pruned.
CREATE TABLE catalog_changes (
    ingestion_id bigint NOT NULL,
    movie_id     bigint NOT NULL,
    change       text   NOT NULL CHECK (change IN ('inserted', 'updated', 'withdrawn')),
    PRIMARY KEY (ingestion_id, movie_id)
);

-- Changes of versions up to the horizon may have been pruned (retention is bounded).
ALTER TABLE catalog_state ADD COLUMN feed_horizon bigint;
UPDATE catalog_state SET feed_horizon = version;
ALTER TABLE catalog_state ALTER COLUMN feed_horizon SET NOT NULL;
