-- API keys (docs/api.md, "Keys"). The secret is never stored: only its SHA-256 (a key is 32
-- random bytes, so a plain digest is as strong as a slow hash and costs the API nothing to
-- check). `key_id` is the public part a key starts with, shown by `moviestore keys list` and
-- named to revoke it.
CREATE TABLE api_keys (
    key_id       text        PRIMARY KEY CHECK (key_id ~ '^[a-z0-9]{12}$'),
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- A provider's key reaches /v1/providers/{provider}/... of that provider only.
    provider     text        CHECK (provider ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    secret_sha256 bytea      NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),
    -- Requests a second (the burst is one second's worth).
    rate         integer     NOT NULL CHECK (rate BETWEEN 1 AND 1000000),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- Bumped by every change to api_keys, in the same transaction: the API's processes poll this
-- one row and read the keys again only when it moved.
CREATE TABLE api_keys_state (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    revision  bigint  NOT NULL
);
INSERT INTO api_keys_state (revision) VALUES (0);
