-- +goose Up
-- Test sign-ins an admin starts from the IdP configurator (issue 13): the
-- IdP's answer is validated and the identity-linking decision made exactly
-- as for a real sign-in, but nothing is created; the outcome is kept here
-- for the admin who started it (person_id) until expires_at.
CREATE TABLE sso_test_sign_ins (
    id              TEXT PRIMARY KEY,
    account_id      TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    person_id       TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    request_id      TEXT NOT NULL DEFAULT '',
    browser_binding TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'refused')),
    result_json     TEXT NOT NULL DEFAULT '{}',
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sso_test_sign_ins_account ON sso_test_sign_ins(account_id, created_at);
CREATE INDEX sso_test_sign_ins_expires ON sso_test_sign_ins(expires_at);

-- +goose Down
DROP TABLE sso_test_sign_ins;
