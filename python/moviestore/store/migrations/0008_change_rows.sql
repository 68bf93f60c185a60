-- Each version's changed movies as the API's search indexes take them (docs/api.md, "Changes"):
-- the index's columns (CHANGE_COLUMNS) as the version left them, and `after_id`, the live movie
-- right before each one in the catalog's `ORDER BY title, id` at that version (NULL: it is
-- first), encoded as binary COPY tuples, in parts of at most 50,000 movies. A withdrawn movie
-- has no tuple (its id is in catalog_changes).
--
-- Written once, by the ingestion that makes the version, in its transaction, under the
-- version's lock (store/feed.py). Every API process (two per pod, up to ten pods) used to find
-- the predecessors itself, a walk of the whole catalog for a large change set (1.0 s for 200,000
-- changed movies of 500,000; 2.8-4.7 s on the API's cores under load), then read them a row
-- at a time; now each reads a version's few values.
CREATE TABLE catalog_change_rows (
    version bigint  NOT NULL,
    part    integer NOT NULL CHECK (part >= 0),
    -- Tuples only (no header or trailer): a version's parts, in any order, joined, are its rows.
    tuples  bytea   NOT NULL,
    PRIMARY KEY (version, part)
);
-- Read whole and written once: kept out of line and uncompressed (nothing to decompress on
-- read, in every API process).
ALTER TABLE catalog_change_rows ALTER COLUMN tuples SET STORAGE EXTERNAL;

-- Whether the version's change rows were written. They are not for a version that changed more
-- movies than the catalog held before it (a first load): every index then holds fewer movies
-- than the change and is built anew from the catalog instead. Nor for the versions made before
-- this table. A process with an index behind such a version starts over from the catalog.
ALTER TABLE catalog_versions ADD COLUMN change_rows boolean NOT NULL DEFAULT false;
