-- +goose Up
-- An address identifies a person only after its owner proved it (DESIGN.md
-- "Identity and trust rules"). email_verified_at is when they did; NULL for
-- people created before verification existed who have not proved it yet.
ALTER TABLE people ADD COLUMN email_verified_at BIGINT;

-- Single-use links that prove an address. purpose:
--   signup  — a sign-up waiting for its address; no person exists until the
--             link is used (it carries the chosen name and password hash);
--   change  — a person's new address, applied when the link is used;
--   confirm — a person's current address, for people created before
--             verification existed.
-- Every link is bound to email_norm: it proves that address and no other.
-- binding_hash is the hash of a cookie of the browser that asked: there one
-- click completes it; elsewhere the person must give the password (so a
-- stranger who signs up with someone else's address cannot get the owner to
-- finish the stranger's sign-up with one careless click).
CREATE TABLE email_verifications (
    token_hash    TEXT PRIMARY KEY,
    purpose       TEXT NOT NULL CHECK (purpose IN ('signup', 'change', 'confirm')),
    person_id     TEXT REFERENCES people(id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    email_norm    TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    next_path     TEXT NOT NULL DEFAULT '',
    binding_hash  TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);
CREATE INDEX email_verifications_norm ON email_verifications(email_norm);
CREATE INDEX email_verifications_person ON email_verifications(person_id);

-- +goose Down
DROP TABLE email_verifications;
ALTER TABLE people DROP COLUMN email_verified_at;
