-- The catalog and the record of every ingested file.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE ingestions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bucket          text        NOT NULL,
    key             text        NOT NULL,
    -- The S3 version id when the bucket is versioned, else the ETag: one row per object version.
    version         text        NOT NULL,
    provider        text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('processing', 'loaded', 'partially_loaded', 'rejected', 'failed')),
    attempts        integer     NOT NULL DEFAULT 1,
    bytes           bigint,
    records_total   bigint,
    records_valid   bigint,
    records_invalid bigint,
    duplicates_collapsed bigint,
    rows_inserted   bigint,
    rows_updated    bigint,
    error_counts    jsonb       NOT NULL DEFAULT '{}',
    error_summary   text,
    report_key      text,
    worker          text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (bucket, key, version)
);
CREATE INDEX ingestions_provider_started ON ingestions (provider, started_at DESC);

CREATE TABLE movies (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider         text        NOT NULL,
    -- XXH3-128 of the normalised record key (see docs/validator-api.md).
    record_key       uuid        NOT NULL,
    provider_id      text,
    title            text        NOT NULL,
    year             integer     NOT NULL,
    href             text,
    "cast"           text[]      NOT NULL DEFAULT '{}',
    genres           text[]      NOT NULL DEFAULT '{}',
    extract          text,
    thumbnail        text,
    thumbnail_width  integer,
    thumbnail_height integer,
    content_hash     bigint      NOT NULL,
    ingestion_id     bigint      NOT NULL REFERENCES ingestions (id),
    source_key       text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, record_key)
);
CREATE INDEX movies_year ON movies (year);
CREATE INDEX movies_title_trgm ON movies USING gin (title gin_trgm_ops);
CREATE INDEX movies_genres ON movies USING gin (genres);
CREATE INDEX movies_cast ON movies USING gin ("cast");
