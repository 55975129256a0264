-- +goose Up
-- A third purpose of an AuthnRequest: an admin's test sign-in from the IdP
-- configurator. SQLite cannot change a CHECK constraint in place, so the
-- table is rebuilt (nothing references it).
CREATE TABLE saml_requests_new (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose         TEXT NOT NULL CHECK (purpose IN ('portal', 'desktop', 'test')),
    attempt_ref     TEXT NOT NULL DEFAULT '',
    browser_binding TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    consumed_at     BIGINT
);
INSERT INTO saml_requests_new (id, account_id, purpose, attempt_ref, browser_binding, created_at, expires_at, consumed_at)
    SELECT id, account_id, purpose, attempt_ref, browser_binding, created_at, expires_at, consumed_at FROM saml_requests;
DROP TABLE saml_requests;
ALTER TABLE saml_requests_new RENAME TO saml_requests;
CREATE INDEX saml_requests_account ON saml_requests(account_id, created_at);
CREATE INDEX saml_requests_expires ON saml_requests(expires_at);

-- +goose Down
DELETE FROM saml_requests WHERE purpose = 'test';
CREATE TABLE saml_requests_old (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose         TEXT NOT NULL CHECK (purpose IN ('portal', 'desktop')),
    attempt_ref     TEXT NOT NULL DEFAULT '',
    browser_binding TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    consumed_at     BIGINT
);
INSERT INTO saml_requests_old (id, account_id, purpose, attempt_ref, browser_binding, created_at, expires_at, consumed_at)
    SELECT id, account_id, purpose, attempt_ref, browser_binding, created_at, expires_at, consumed_at FROM saml_requests;
DROP TABLE saml_requests;
ALTER TABLE saml_requests_old RENAME TO saml_requests;
CREATE INDEX saml_requests_account ON saml_requests(account_id, created_at);
CREATE INDEX saml_requests_expires ON saml_requests(expires_at);
