-- +goose Up
-- AuthnRequests sent to IdPs, kept server-side so any node can receive the
-- IdP's POST; consumed once by a conditional UPDATE (consumed_at IS NULL).
CREATE TABLE saml_requests (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose         TEXT NOT NULL CHECK (purpose IN ('portal', 'desktop')),
    attempt_ref     TEXT NOT NULL DEFAULT '',
    browser_binding TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    consumed_at     BIGINT
);
CREATE INDEX saml_requests_account ON saml_requests(account_id, created_at);
CREATE INDEX saml_requests_expires ON saml_requests(expires_at);

-- Assertion IDs already accepted, shared by every node; kept until the
-- assertion could no longer be accepted anyway.
CREATE TABLE saml_replay (
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    assertion_id TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, assertion_id)
);
CREATE INDEX saml_replay_expires ON saml_replay(expires_at);

-- +goose Down
DROP TABLE saml_replay;
DROP TABLE saml_requests;
