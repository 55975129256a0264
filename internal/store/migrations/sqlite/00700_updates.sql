-- +goose Up
-- Updates and deployment (spec 06): releases the operator publishes to the
-- early and business channels, the files Gatehouse hosts (in the database,
-- so every node serves them), organisations' update settings and the
-- releases they mirror as their local update server.

-- A stored file, in chunks of at most 1 MiB so that a byte range is served
-- without reading the whole file and no single value is large. sha256 and
-- size are known once the last chunk is in; only complete blobs are served.
-- Each chunk carries its own SHA-256, checked whenever it is read.
CREATE TABLE update_blobs (
    id         TEXT PRIMARY KEY,
    sha256     TEXT NOT NULL DEFAULT '',
    size_bytes BIGINT NOT NULL DEFAULT 0,
    chunk_size INTEGER NOT NULL,
    complete   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX update_blobs_sha256 ON update_blobs(sha256) WHERE complete;

CREATE TABLE update_blob_chunks (
    blob_id TEXT NOT NULL REFERENCES update_blobs(id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    data    BLOB NOT NULL,
    sha256  TEXT NOT NULL,
    PRIMARY KEY (blob_id, seq)
);

-- A release of Desktop. Its feed uuid (major, minor, build, revision,
-- locale, vendor, platform) is unique. state: draft (not offered),
-- published (early channel from published_at, business channel from
-- business_at when set), withdrawn (offered nowhere; still an ancestor).
CREATE TABLE update_releases (
    id              TEXT PRIMARY KEY,
    major           INTEGER NOT NULL,
    minor           INTEGER NOT NULL,
    sub             INTEGER NOT NULL,
    subsub          INTEGER NOT NULL,
    build           INTEGER NOT NULL,
    revision        INTEGER NOT NULL,
    locale          TEXT NOT NULL,
    vendor          TEXT NOT NULL,
    platform        TEXT NOT NULL,
    codename        TEXT NOT NULL DEFAULT '',
    name            TEXT NOT NULL DEFAULT '',
    notes           TEXT NOT NULL DEFAULT '',
    file_url        TEXT NOT NULL DEFAULT '',
    blob_id         TEXT REFERENCES update_blobs(id),
    file_name       TEXT NOT NULL DEFAULT '',
    sha256          TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    released_at     BIGINT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'published', 'withdrawn')),
    published_at    BIGINT,
    business_at     BIGINT,
    withdrawn_at    BIGINT,
    withdraw_reason TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (major, minor, build, revision, locale, vendor, platform)
);
CREATE INDEX update_releases_state ON update_releases(state, business_at);

-- Bumped in every transaction that changes what a feed may contain, so
-- that each node's feed cache notices changes made on other nodes.
CREATE TABLE update_feed_state (
    id         INTEGER PRIMARY KEY,
    generation BIGINT NOT NULL,
    changed_at BIGINT NOT NULL
);
INSERT INTO update_feed_state (id, generation, changed_at) VALUES (1, 1, 0);

-- An organisation's update settings (what its installations are told) and
-- its local update server: the feed token names its public feed URL;
-- feed_generation changes with its mirrored releases.
CREATE TABLE update_settings (
    account_id      TEXT PRIMARY KEY REFERENCES accounts(id),
    source          TEXT NOT NULL DEFAULT 'vendor' CHECK (source IN ('vendor', 'local', 'none')),
    channel         TEXT NOT NULL DEFAULT 'business' CHECK (channel IN ('business', 'early')),
    local_url       TEXT NOT NULL DEFAULT '',
    check_frequency TEXT NOT NULL DEFAULT 'weekly' CHECK (check_frequency IN ('never', 'daily', 'weekly', 'monthly')),
    auto_download   BOOLEAN NOT NULL DEFAULT FALSE,
    feed_token      TEXT NOT NULL UNIQUE,
    feed_generation BIGINT NOT NULL DEFAULT 1,
    feed_changed_at BIGINT NOT NULL DEFAULT 0,
    updated_at      BIGINT NOT NULL
);

-- Releases an organisation mirrors. state: pending (the file is being
-- fetched), ready (stored and its SHA-256 verified), failed (error says
-- why; retried at next_attempt_at).
CREATE TABLE update_mirrors (
    account_id      TEXT NOT NULL REFERENCES accounts(id),
    release_id      TEXT NOT NULL REFERENCES update_releases(id),
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'ready', 'failed')),
    blob_id         TEXT REFERENCES update_blobs(id),
    error           TEXT NOT NULL DEFAULT '',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    ready_at        BIGINT,
    PRIMARY KEY (account_id, release_id)
);
CREATE INDEX update_mirrors_due ON update_mirrors(state, next_attempt_at);

-- +goose Down
DROP TABLE update_mirrors;
DROP TABLE update_settings;
DROP TABLE update_feed_state;
DROP TABLE update_releases;
DROP TABLE update_blob_chunks;
DROP TABLE update_blobs;
