-- +goose Up
-- Management Portal (spec 05): golden images, policies and the groups they
-- apply to, configuration profiles and the keys they are applied to. A group
-- is a live license key (the primary key or a sublicense key).

CREATE TABLE portal_images (
    id            TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts(id),
    name          TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    arm_enabled   BOOLEAN NOT NULL DEFAULT FALSE,
    arm_url       TEXT NOT NULL DEFAULT '',
    arm_sha256    TEXT NOT NULL DEFAULT '',
    intel_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    intel_url     TEXT NOT NULL DEFAULT '',
    intel_sha256  TEXT NOT NULL DEFAULT '',
    created_by    TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CHECK (arm_enabled OR intel_enabled)
);
CREATE INDEX portal_images_account ON portal_images(account_id, name);

-- settings_gi / settings_other: the two VM-settings sets as JSON
-- ({"on": bool, "values": {setting: value}}), kept whole when switched off.
CREATE TABLE portal_policies (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL REFERENCES accounts(id),
    name               TEXT NOT NULL,
    name_key           TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    image_id           TEXT REFERENCES portal_images(id),
    provisioned_only   BOOLEAN NOT NULL DEFAULT FALSE,
    one_vm_per_user    BOOLEAN NOT NULL DEFAULT FALSE,
    no_remove_vms      BOOLEAN NOT NULL DEFAULT FALSE,
    no_major_upgrade   BOOLEAN NOT NULL DEFAULT FALSE,
    no_edit_prefs      BOOLEAN NOT NULL DEFAULT FALSE,
    license_bound      BOOLEAN NOT NULL DEFAULT FALSE,
    settings_gi        TEXT NOT NULL,
    settings_other     TEXT NOT NULL,
    created_by         TEXT NOT NULL DEFAULT '',
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (account_id, name_key)
);
CREATE INDEX portal_policies_image ON portal_policies(image_id);

-- Each group has at most one policy: the key is the primary key here, so
-- two admins adding the same group at once cannot both succeed.
CREATE TABLE portal_policy_groups (
    key_id     TEXT PRIMARY KEY REFERENCES license_keys(id),
    account_id TEXT NOT NULL REFERENCES accounts(id),
    policy_id  TEXT NOT NULL REFERENCES portal_policies(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX portal_policy_groups_policy ON portal_policy_groups(policy_id);

CREATE TABLE portal_profiles (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id),
    name                TEXT NOT NULL,
    name_key            TEXT NOT NULL,
    intel_enabled       BOOLEAN NOT NULL DEFAULT FALSE,
    intel_name          TEXT NOT NULL DEFAULT '',
    intel_description   TEXT NOT NULL DEFAULT '',
    intel_url           TEXT NOT NULL DEFAULT '',
    intel_sha256        TEXT NOT NULL DEFAULT '',
    arm_enabled         BOOLEAN NOT NULL DEFAULT FALSE,
    arm_name            TEXT NOT NULL DEFAULT '',
    arm_description     TEXT NOT NULL DEFAULT '',
    arm_url             TEXT NOT NULL DEFAULT '',
    arm_sha256          TEXT NOT NULL DEFAULT '',
    updates_enabled     BOOLEAN NOT NULL DEFAULT FALSE,
    updates_allow_major BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (account_id, name_key)
);

-- A key without a row here has the built-in "Default" profile (no payloads).
CREATE TABLE portal_profile_keys (
    key_id     TEXT PRIMARY KEY REFERENCES license_keys(id),
    account_id TEXT NOT NULL REFERENCES accounts(id),
    profile_id TEXT NOT NULL REFERENCES portal_profiles(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL
);
CREATE INDEX portal_profile_keys_profile ON portal_profile_keys(profile_id);

-- +goose Down
DROP TABLE portal_profile_keys;
DROP TABLE portal_profiles;
DROP TABLE portal_policy_groups;
DROP TABLE portal_policies;
DROP TABLE portal_images;
