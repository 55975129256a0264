-- +goose Up
-- Fleet (spec 07 check-in, spec 05 Virtual Machines): what each Desktop
-- installation reports about its host and its VMs, and the per-installation
-- command queue. An installation is a license activation
-- (license_activations.id); it checks in with the device credential it got
-- at activation. See internal/fleet/doc.go for the rules.

-- Per-account answer state: settings_version is bumped whenever anything an
-- installation's answer depends on changes (policies, golden images,
-- profiles, update settings), so that an "unchanged" check-in is decided
-- from one indexed read without rebuilding the answer.
CREATE TABLE fleet_accounts (
    account_id       TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    settings_version BIGINT NOT NULL DEFAULT 1,
    updated_at       BIGINT NOT NULL
);

-- The host report of one installation, and the protocol state of its
-- check-ins. last_seen_at is written in batches (see docs/decisions.md);
-- last_report_at only by a report that changed something.
CREATE TABLE fleet_hosts (
    installation_id  TEXT PRIMARY KEY REFERENCES license_activations(id) ON DELETE CASCADE,
    account_id       TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    key_id           TEXT NOT NULL REFERENCES license_keys(id),
    computer_name    TEXT NOT NULL DEFAULT '',
    mac_serial       TEXT NOT NULL DEFAULT '',
    hardware_uuid    TEXT NOT NULL DEFAULT '',
    macos_user       TEXT NOT NULL DEFAULT '',
    cpu              TEXT NOT NULL DEFAULT '' CHECK (cpu IN ('', 'intel', 'apple_silicon')),
    macos_version    TEXT NOT NULL DEFAULT '',
    desktop_version  TEXT NOT NULL DEFAULT '',
    -- What the client says: activated_sso, activated_key, deactivated.
    desktop_state    TEXT NOT NULL DEFAULT '',
    last_trigger     TEXT NOT NULL DEFAULT '',
    -- The highest report sequence applied and the server's hash of that
    -- report (a late, older report never overwrites a newer one).
    report_seq       BIGINT NOT NULL DEFAULT 0,
    report_hash      TEXT NOT NULL DEFAULT '',
    -- The hash of the last answer sent and the account settings_version it
    -- was built from.
    answer_hash      TEXT NOT NULL DEFAULT '',
    answer_version   BIGINT NOT NULL DEFAULT 0,
    -- Commands: the last sequence given out and how many are still open
    -- (pending or delivered); a check-in with open commands is never
    -- "unchanged".
    command_seq      BIGINT NOT NULL DEFAULT 0,
    open_commands    INTEGER NOT NULL DEFAULT 0 CHECK (open_commands >= 0),
    vm_count         INTEGER NOT NULL DEFAULT 0,
    first_seen_at    BIGINT NOT NULL,
    last_report_at   BIGINT NOT NULL,
    last_seen_at     BIGINT NOT NULL
);
CREATE INDEX fleet_hosts_account ON fleet_hosts(account_id, key_id);
CREATE INDEX fleet_hosts_seen ON fleet_hosts(account_id, last_seen_at);

-- One VM of one installation. vm_uuid is the client's VM ID, unique per
-- installation. The host's columns (macos_user … cpu) are copied onto each
-- VM row so that the inventory sorts and filters 1M rows on one table's
-- indexes; they are rewritten when the host report changes. status is the
-- server's (active, delete_failed); "Desktop deactivated" comes from the
-- activation. last_command_* mirror the VM's latest command for the
-- inventory's "Last command" column. gone_at is set when a full report no
-- longer lists the VM (kept for history, hidden by default).
CREATE TABLE fleet_vms (
    id                  TEXT PRIMARY KEY,
    account_id          TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    installation_id     TEXT NOT NULL REFERENCES fleet_hosts(installation_id) ON DELETE CASCADE,
    key_id              TEXT NOT NULL,
    vm_uuid             TEXT NOT NULL,
    name                TEXT NOT NULL DEFAULT '',
    state               TEXT NOT NULL CHECK (state IN ('running', 'stopped', 'suspended', 'unknown')),
    status              TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'delete_failed')),
    guest_os            TEXT NOT NULL DEFAULT '',
    os_edition          TEXT NOT NULL DEFAULT '',
    os_build            TEXT NOT NULL DEFAULT '',
    vm_serial           TEXT NOT NULL DEFAULT '',
    source              TEXT NOT NULL DEFAULT 'other' CHECK (source IN ('golden_image', 'other')),
    -- The golden image the VM came from, when source = golden_image (the
    -- portal's image id; no foreign key: images may be deleted).
    golden_image_id     TEXT,
    encryption          TEXT NOT NULL DEFAULT 'none' CHECK (encryption IN ('none', 'custom_password', 'license_bound')),
    tools_version       TEXT NOT NULL DEFAULT '',
    last_used_at        BIGINT,
    macos_user          TEXT NOT NULL DEFAULT '',
    computer_name       TEXT NOT NULL DEFAULT '',
    mac_serial          TEXT NOT NULL DEFAULT '',
    cpu                 TEXT NOT NULL DEFAULT '',
    desktop_version     TEXT NOT NULL DEFAULT '',
    desktop_state       TEXT NOT NULL DEFAULT '',
    last_command_id     TEXT,
    last_command_kind   TEXT NOT NULL DEFAULT '',
    last_command_state  TEXT NOT NULL DEFAULT '',
    -- A hash of the reported fields, so an unchanged VM in a changed report
    -- is not rewritten.
    content_hash        TEXT NOT NULL DEFAULT '',
    first_seen_at       BIGINT NOT NULL,
    last_report_at      BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    gone_at             BIGINT,
    UNIQUE (installation_id, vm_uuid)
);
-- Inventory: the default page (present VMs of an account by last report)
-- and the most common sorts and filters; each ends with id so pages are
-- stable. The inventory may add more.
CREATE INDEX fleet_vms_account_reported ON fleet_vms(account_id, last_seen_at, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_account_name ON fleet_vms(account_id, name, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_account_computer ON fleet_vms(account_id, computer_name, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_account_state ON fleet_vms(account_id, state, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_account_guest ON fleet_vms(account_id, guest_os, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_account_desktop ON fleet_vms(account_id, desktop_version, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_account_key ON fleet_vms(account_id, key_id, id);
CREATE INDEX fleet_vms_gone ON fleet_vms(account_id, gone_at) WHERE gone_at IS NOT NULL;

-- The per-installation command queue. seq orders an installation's
-- commands. state: pending → delivered → done | failed, or pending →
-- cancelled. A delivered command is handed out again only after
-- lease_until (so two concurrent check-ins never both receive it) and until
-- the client acknowledges it; an acknowledgement is applied once.
CREATE TABLE fleet_commands (
    id               TEXT PRIMARY KEY,
    account_id       TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    installation_id  TEXT NOT NULL REFERENCES fleet_hosts(installation_id) ON DELETE CASCADE,
    vm_id            TEXT NOT NULL REFERENCES fleet_vms(id) ON DELETE CASCADE,
    vm_uuid          TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('delete', 'lock', 'redownload', 'restart')),
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'done', 'failed', 'cancelled')),
    seq              BIGINT NOT NULL,
    reason           TEXT NOT NULL DEFAULT '',
    deliveries       INTEGER NOT NULL DEFAULT 0,
    lease_until      BIGINT,
    created_by_type  TEXT NOT NULL DEFAULT '',
    created_by_id    TEXT NOT NULL DEFAULT '',
    created_by_label TEXT NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    delivered_at     BIGINT,
    finished_at      BIGINT,
    UNIQUE (installation_id, seq)
);
CREATE INDEX fleet_commands_open ON fleet_commands(installation_id, seq) WHERE state IN ('pending', 'delivered');
CREATE INDEX fleet_commands_vm ON fleet_commands(vm_id, created_at);
CREATE INDEX fleet_commands_account ON fleet_commands(account_id, created_at);

-- +goose Down
DROP TABLE fleet_commands;
DROP TABLE fleet_vms;
DROP TABLE fleet_hosts;
DROP TABLE fleet_accounts;
