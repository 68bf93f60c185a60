-- A provider's catalog lifecycle, and an ingestion record that tells the truth
-- (docs/provider-format.md, "Catalog lifecycle"; docs/ingestion.md).

-- A withdrawn movie (missing from its provider's snapshot, or named by a deletion record) is
-- kept, with the time it left: the API lists it no more and answers 410 Gone for its detail;
-- a later file that brings it back clears the time.
ALTER TABLE movies ADD COLUMN withdrawn_at timestamptz;

-- The API reads only live movies: its indexes hold only them, so counts stay index-only scans
-- and withdrawn movies cost the API nothing. Same names and columns as before.
DROP INDEX movies_year_id_genres_title;
CREATE INDEX movies_year_id_genres_title ON movies (year, id) INCLUDE (genres, title)
    WHERE withdrawn_at IS NULL;
DROP INDEX movies_title_id;
CREATE INDEX movies_title_id ON movies (title, id) WHERE withdrawn_at IS NULL;
DROP INDEX movies_title_search_trgm;
CREATE INDEX movies_title_search_trgm ON movies USING gin (title_search gin_trgm_ops)
    WHERE withdrawn_at IS NULL;
DROP INDEX movies_genres;
CREATE INDEX movies_genres ON movies USING gin (genres) WHERE withdrawn_at IS NULL;
DROP INDEX movies_cast;
CREATE INDEX movies_cast ON movies USING gin ("cast") WHERE withdrawn_at IS NULL;

-- New outcomes: `held` (a snapshot the brake stopped: nothing of it applied), `confirmed` (an
-- operator released it: queued to load without the brake), `discarded` (an operator dropped it),
-- `superseded` (a newer upload of the same key replaced this version before it loaded).
ALTER TABLE ingestions DROP CONSTRAINT ingestions_status_check;
ALTER TABLE ingestions ADD CONSTRAINT ingestions_status_check CHECK (status IN (
    'processing', 'loaded', 'partially_loaded', 'rejected', 'failed',
    'held', 'confirmed', 'discarded', 'superseded'));

ALTER TABLE ingestions
    -- `snapshot`: the file is the provider's whole catalog (S3 user metadata mode=snapshot).
    ADD COLUMN mode text NOT NULL DEFAULT 'incremental'
        CHECK (mode IN ('incremental', 'snapshot')),
    -- Exactly which object version the event named: the load reads this one and no other.
    ADD COLUMN etag text,
    ADD COLUMN version_id text,
    -- S3's event sequencer (hexadecimal): the upload order of two versions of one key.
    ADD COLUMN sequencer text,
    ADD COLUMN rows_withdrawn bigint,
    -- A held snapshot: how many live movies it would withdraw, of how many.
    ADD COLUMN would_withdraw bigint,
    ADD COLUMN catalog_movies bigint,
    -- Who released or discarded a held snapshot, and when.
    ADD COLUMN settled_by text,
    ADD COLUMN settled_at timestamptz,
    -- Moved forward while a worker works on the file: a `processing` claim whose heartbeat is
    -- older than the queue's visibility timeout was left by a worker that died (stale).
    ADD COLUMN heartbeat_at timestamptz;

-- The claims still open (processing, held, confirmed): few rows, read by operators.
CREATE INDEX ingestions_open ON ingestions (started_at)
    WHERE status IN ('processing', 'held', 'confirmed');
