-- +goose Up
-- Virtual Machines inventory (spec 05): every column sorts on an index
-- (account_id, column, id) over the present VMs, so a sorted page of a
-- million-VM inventory reads a page of index entries, not the table. The
-- fleet migration indexes last report, VM name, computer, state, guest OS
-- and Desktop version; these cover the other columns.
CREATE INDEX fleet_vms_inv_user ON fleet_vms(account_id, macos_user, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_uuid ON fleet_vms(account_id, vm_uuid, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_status ON fleet_vms(account_id, status, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_edition ON fleet_vms(account_id, os_edition, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_build ON fleet_vms(account_id, os_build, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_serial ON fleet_vms(account_id, vm_serial, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_source ON fleet_vms(account_id, source, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_encryption ON fleet_vms(account_id, encryption, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_command ON fleet_vms(account_id, last_command_state, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_used ON fleet_vms(account_id, last_used_at, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_desktop_state ON fleet_vms(account_id, desktop_state, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_tools ON fleet_vms(account_id, tools_version, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_mac_serial ON fleet_vms(account_id, mac_serial, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_cpu ON fleet_vms(account_id, cpu, id) WHERE gone_at IS NULL;

-- The columns and page length each person picked in the inventory of each
-- account (a view preference, not an account setting: not audited).
CREATE TABLE fleet_inventory_prefs (
    account_id  TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    person_id   TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    columns     TEXT NOT NULL,
    page_size   INTEGER NOT NULL DEFAULT 40,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (account_id, person_id)
);

-- +goose Down
DROP TABLE fleet_inventory_prefs;
DROP INDEX fleet_vms_inv_user;
DROP INDEX fleet_vms_inv_uuid;
DROP INDEX fleet_vms_inv_status;
DROP INDEX fleet_vms_inv_edition;
DROP INDEX fleet_vms_inv_build;
DROP INDEX fleet_vms_inv_serial;
DROP INDEX fleet_vms_inv_source;
DROP INDEX fleet_vms_inv_encryption;
DROP INDEX fleet_vms_inv_command;
DROP INDEX fleet_vms_inv_used;
DROP INDEX fleet_vms_inv_desktop_state;
DROP INDEX fleet_vms_inv_tools;
DROP INDEX fleet_vms_inv_mac_serial;
DROP INDEX fleet_vms_inv_cpu;
