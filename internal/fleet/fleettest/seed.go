// Package fleettest generates fleets for the inventory's tests and
// benchmark: activations, hosts and VMs written straight into the tables,
// as if every installation had activated and checked in once.
package fleettest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"gatehouse/internal/fleet"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// SeedSpec describes a generated fleet for the inventory's tests and
// benchmark: Hosts installations, each activated on one of KeyIDs (round
// robin) of SubscriptionID, each reporting VMsPerHost VMs. The values are
// a pure function of Seed and the row's position, so a test can compute
// what the inventory must answer.
type SeedSpec struct {
	AccountID      string
	SubscriptionID string
	KeyIDs         []string
	Hosts          int
	VMsPerHost     int
	Now            time.Time
	Seed           uint64
	// Progress, when set, is called after each batch with the VMs written.
	Progress func(vms int)
	// BulkLoad drops the secondary indexes of fleet_vms while writing and
	// builds them again at the end (a sorted build is several times faster
	// than a million index insertions); for the benchmark's empty table.
	BulkLoad bool
}

// SeedHost and SeedVM are what the generator writes (ids aside).
type SeedHost struct {
	KeyID, ComputerName, MacOSUser, MacSerial, CPU, DesktopVersion, DesktopState string
	Deactivated                                                                  bool
	LastSeenAt                                                                   time.Time
}

type SeedVM struct {
	Name, State, Status, GuestOS, OSEdition, OSBuild, Serial, Source, Encryption, ToolsVersion string
	CommandKind, CommandState                                                                  string
	LastUsedAt                                                                                 time.Time // zero: never used
	Gone                                                                                       bool
}

var (
	seedUsers    = []string{"anna", "ben", "chloe", "dmitri", "elif", "farah", "gustav", "hana", "ivan", "julia", "kenji", "lena"}
	seedModels   = []string{"MacBook Pro", "MacBook Air", "Mac mini", "iMac", "Mac Studio"}
	seedVersions = []string{"18.3.1", "19.4.0", "20.1.2", "24.0.1", "25.2.0", "26.0.1", "26.1.0", "26.1.2"}
	seedOS       = []struct{ os, edition, build string }{
		{"Windows 11", "Pro", "26100.2605"}, {"Windows 11", "Enterprise", "26100.2605"}, {"Windows 10", "Pro", "19045.5247"},
		{"Ubuntu 24.04", "Desktop", "6.8.0-49"}, {"macOS 15 Sequoia", "", "24B83"}, {"Debian 12", "", "6.1.0-28"},
		{"Fedora 41", "Workstation", "6.11.4"}, {"Kali Linux 2024.4", "", "6.11.2"},
	}
	seedStates   = []string{"running", "stopped", "suspended", "unknown"}
	seedCommands = []string{"delete", "lock", "redownload", "restart"}
)

// Host returns the generated host h.
func (sp SeedSpec) Host(h int) SeedHost {
	r := rand.New(rand.NewPCG(sp.Seed, uint64(h)))
	user := seedUsers[r.IntN(len(seedUsers))]
	x := SeedHost{KeyID: sp.KeyIDs[h%len(sp.KeyIDs)], MacOSUser: fmt.Sprintf("%s%d", user, h%97),
		ComputerName: fmt.Sprintf("%s’s %s %d", strings.ToUpper(user[:1])+user[1:], seedModels[r.IntN(len(seedModels))], h),
		MacSerial:    fmt.Sprintf("C02%07X", r.Uint32()&0xFFFFFFF), CPU: fleet.CPUAppleSilicon,
		DesktopVersion: seedVersions[r.IntN(len(seedVersions))], DesktopState: fleet.DesktopActivatedKey,
		LastSeenAt: sp.Now.Add(-time.Duration(r.IntN(10*24*60)) * time.Minute).Truncate(time.Millisecond)}
	if r.IntN(10) < 3 {
		x.CPU = fleet.CPUIntel
	}
	switch n := r.IntN(100); {
	case n < 35:
		x.DesktopState = fleet.DesktopActivatedSSO
	case n < 38:
		x.DesktopState, x.Deactivated = fleet.DesktopDeactivated, true
	}
	return x
}

// VM returns the generated VM v of host h.
func (sp SeedSpec) VM(h, v int) SeedVM {
	r := rand.New(rand.NewPCG(sp.Seed^0x9e3779b97f4a7c15, uint64(h)*1024+uint64(v)))
	os := seedOS[r.IntN(len(seedOS))]
	x := SeedVM{Name: fmt.Sprintf("%s %d-%d", os.os, h, v), State: seedStates[r.IntN(len(seedStates))], Status: fleet.StatusActive,
		GuestOS: os.os, OSEdition: os.edition, OSBuild: os.build,
		Serial: fmt.Sprintf("Parallels-%08X %08X", r.Uint32(), r.Uint32()), Source: fleet.SourceOther, Encryption: fleet.EncryptionNone,
		ToolsVersion: "26.1.0-" + fmt.Sprint(55000+r.IntN(900)),
		LastUsedAt:   sp.Now.Add(-time.Duration(r.IntN(60*24*60)) * time.Minute).Truncate(time.Millisecond)}
	if r.IntN(10) < 3 {
		x.Source = fleet.SourceGoldenImage
	}
	switch n := r.IntN(10); {
	case n < 2:
		x.Encryption = fleet.EncryptionCustomPassword
	case n < 4:
		x.Encryption = fleet.EncryptionLicenseBound
	}
	if r.IntN(10) == 0 {
		x.ToolsVersion, x.OSEdition, x.OSBuild = "", "", ""
	}
	if r.IntN(20) == 0 {
		x.LastUsedAt, x.GuestOS = time.Time{}, ""
	}
	switch n := r.IntN(100); {
	case n < 3:
		x.CommandKind, x.CommandState = seedCommands[r.IntN(4)], fleet.CommandPending
	case n < 5:
		x.CommandKind, x.CommandState = seedCommands[r.IntN(4)], fleet.CommandFailed
		if x.CommandKind == fleet.CommandDelete {
			x.Status = fleet.StatusDeleteFailed
		}
	case n < 10:
		x.CommandKind, x.CommandState = seedCommands[1+r.IntN(3)], fleet.CommandDone
	}
	x.Gone = r.IntN(50) == 0
	return x
}

// SeedInventory writes the generated fleet with multi-row inserts, a few
// thousand rows per transaction: activations, hosts and VMs, as if every
// installation had activated and checked in once.
func SeedInventory(ctx context.Context, db *store.DB, sp SeedSpec) (err error) {
	if sp.BulkLoad {
		indexes, lerr := secondaryIndexes(ctx, db)
		if lerr != nil {
			return lerr
		}
		for name := range indexes {
			if _, err := db.Exec(ctx, `DROP INDEX `+name); err != nil {
				return fmt.Errorf("seed: drop index %s: %w", name, err)
			}
		}
		defer func() {
			for name, ddl := range indexes {
				if _, xerr := db.Exec(context.WithoutCancel(ctx), ddl); xerr != nil && err == nil {
					err = fmt.Errorf("seed: rebuild index %s: %w", name, xerr)
				}
			}
		}()
	}
	const hostsPerTx = 500
	written := 0
	for first := 0; first < sp.Hosts; first += hostsPerTx {
		last := min(first+hostsPerTx, sp.Hosts)
		err := db.InTx(ctx, func(tx *store.Tx) error {
			var acts, hosts, seenRows, vms batch
			for h := first; h < last; h++ {
				x := sp.Host(h)
				inst := ids.New()
				seen := store.At(x.LastSeenAt)
				status := "active"
				if x.Deactivated {
					status = "deactivated"
				}
				// SSO activations belong to a person; the generated ones are
				// key activations whatever the client reports.
				method := "key"
				acts.add(inst, sp.AccountID, sp.SubscriptionID, x.KeyID, ids.New(), x.MacSerial, x.ComputerName, x.MacOSUser,
					x.DesktopVersion, method, status, ids.Hash(inst), seen, seen)
				hosts.add(inst, sp.AccountID, x.KeyID, x.ComputerName, x.MacSerial, x.MacOSUser, x.CPU, "15.2", x.DesktopVersion,
					x.DesktopState, sp.VMsPerHost, seen, seen)
				seenRows.add(inst, sp.AccountID, seen)
				for v := 0; v < sp.VMsPerHost; v++ {
					m := sp.VM(h, v)
					var used, gone any
					if !m.LastUsedAt.IsZero() {
						used = store.At(m.LastUsedAt)
					}
					if m.Gone {
						gone = seen
					}
					vms.add(ids.New(), sp.AccountID, inst, x.KeyID, ids.New(), m.Name, m.State, m.Status, m.GuestOS, m.OSEdition, m.OSBuild,
						m.Serial, m.Source, m.Encryption, m.ToolsVersion, used, x.MacOSUser, x.ComputerName, x.MacSerial, x.CPU,
						x.DesktopVersion, x.DesktopState, m.CommandKind, m.CommandState, seen, seen, seen, gone)
				}
			}
			if err := acts.flush(ctx, tx, `INSERT INTO license_activations (id, account_id, subscription_id, key_id, hardware_uuid, serial,
				computer_name, macos_user, app_version, method, status, credential_hash, activated_at, last_check_at) VALUES `, 14); err != nil {
				return fmt.Errorf("seed activations: %w", err)
			}
			if err := hosts.flush(ctx, tx, `INSERT INTO fleet_hosts (installation_id, account_id, key_id, computer_name, mac_serial,
				macos_user, cpu, macos_version, desktop_version, desktop_state, vm_count, first_seen_at, last_report_at) VALUES `, 13); err != nil {
				return fmt.Errorf("seed hosts: %w", err)
			}
			if err := seenRows.flush(ctx, tx, `INSERT INTO fleet_seen (installation_id, account_id, last_seen_at) VALUES `, 3); err != nil {
				return fmt.Errorf("seed last seen: %w", err)
			}
			if err := vms.flush(ctx, tx, `INSERT INTO fleet_vms (id, account_id, installation_id, key_id, vm_uuid, name, state, status,
				guest_os, os_edition, os_build, vm_serial, source, encryption, tools_version, last_used_at, macos_user, computer_name,
				mac_serial, cpu, desktop_version, desktop_state, last_command_kind, last_command_state, first_seen_at, last_report_at,
				last_seen_at, gone_at) VALUES `, 28); err != nil {
				return fmt.Errorf("seed vms: %w", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		written += (last - first) * sp.VMsPerHost
		if sp.Progress != nil {
			sp.Progress(written)
		}
	}
	return nil
}

// secondaryIndexes returns the non-unique indexes of fleet_vms by name,
// with the statement that creates each, as the database reports them.
func secondaryIndexes(ctx context.Context, db *store.DB) (map[string]string, error) {
	q := `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'fleet_vms' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'`
	if db.Dialect() == store.Postgres {
		q = `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'fleet_vms' AND indexdef NOT LIKE 'CREATE UNIQUE%'`
	}
	rows, err := db.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("seed: list indexes: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var name, ddl string
		if err := rows.Scan(&name, &ddl); err != nil {
			return nil, err
		}
		out[name] = ddl
	}
	return out, rows.Err()
}

// batch collects the values of a multi-row INSERT.
type batch struct{ args []any }

func (b *batch) add(v ...any) { b.args = append(b.args, v...) }

// flush inserts the collected rows, at most 400 per statement (both
// engines' parameter limits are far above 400 × 28).
func (b *batch) flush(ctx context.Context, tx *store.Tx, head string, cols int) error {
	row := "(" + store.Placeholders(cols) + ")"
	for len(b.args) > 0 {
		n := min(len(b.args)/cols, 400)
		stmt := head + strings.Repeat(row+",", n-1) + row
		if _, err := tx.Exec(ctx, stmt, b.args[:n*cols]...); err != nil {
			return err
		}
		b.args = b.args[n*cols:]
	}
	return nil
}
