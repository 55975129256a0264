-- +goose Up
-- The inventory's guest OS filter sorted by VM name, OS edition or OS
-- build: these columns follow the guest OS (names often start with it), so
-- walking the sort column's own index to the rows of one OS can pass most
-- of the account. With the OS first, each matching OS value is read in
-- the sort's order and the branches are merged (fleet.Inventory.mergedPage).
CREATE INDEX fleet_vms_inv_guest_name ON fleet_vms(account_id, guest_os, name, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_guest_edition ON fleet_vms(account_id, guest_os, os_edition, id) WHERE gone_at IS NULL;
CREATE INDEX fleet_vms_inv_guest_build ON fleet_vms(account_id, guest_os, os_build, id) WHERE gone_at IS NULL;

-- +goose Down
DROP INDEX fleet_vms_inv_guest_name;
DROP INDEX fleet_vms_inv_guest_edition;
DROP INDEX fleet_vms_inv_guest_build;
