package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gatehouse/internal/store"
)

// CheckIn is one check-in as the client API parsed it.
type CheckIn struct {
	// Seq is the installation's report sequence (≥ 1, monotonic).
	Seq     int64
	Trigger string
	// Known is what the client last received; with no Report it asks for
	// "unchanged" when nothing changed on either side.
	Known *Known
	// Report is the full host and VM report, or nil.
	Report *Report
	// Results acknowledges delivered commands.
	Results []CommandResult
	// IP is the caller's address (audit).
	IP string
}

// Known carries the hashes of the last answer the client received and of
// the last report the server accepted from it (both from an answer).
type Known struct {
	AnswerHash string
	ReportHash string
}

// Report is a full report.
type Report struct {
	Host Host
	VMs  []VMReport
}

// CommandResult acknowledges one command.
type CommandResult struct {
	ID     string
	Result string // done, failed
	Reason string // why it failed
}

// Limits on reported text.
const (
	maxID      = 128
	maxName    = 255
	maxVersion = 64
	maxReason  = 500
)

// validate checks everything that needs no database, so that a bad
// check-in is refused before anything is read or written.
func (s *Service) validate(in *CheckIn) error {
	if in.Seq < 1 {
		return errf(http.StatusBadRequest, CodeInvalidReport, `Field "seq" must be a positive integer.`)
	}
	if !slices.Contains(Triggers, in.Trigger) {
		return errf(http.StatusBadRequest, CodeInvalidReport, `Field "trigger" must be one of %s.`, strings.Join(Triggers, ", "))
	}
	if in.Report == nil && in.Known == nil {
		return errf(http.StatusBadRequest, CodeReportRequired, `Send "report", or "known" with the hashes of the last answer.`)
	}
	if in.Known != nil {
		if len(in.Known.AnswerHash) > maxID || len(in.Known.ReportHash) > maxID {
			return errf(http.StatusBadRequest, CodeInvalidReport, `The hashes in "known" are too long.`)
		}
	}
	if len(in.Results) > s.Config.MaxVMs*4 {
		return errf(http.StatusBadRequest, CodeInvalidReport, `Too many command results (at most %d).`, s.Config.MaxVMs*4)
	}
	seen := map[string]bool{}
	for i := range in.Results {
		r := &in.Results[i]
		if r.ID == "" || len(r.ID) > maxID {
			return errf(http.StatusBadRequest, CodeInvalidReport, `Each command result needs an "id".`)
		}
		if seen[r.ID] {
			return errf(http.StatusBadRequest, CodeInvalidReport, `Command %q is acknowledged twice in one check-in.`, r.ID)
		}
		seen[r.ID] = true
		switch r.Result {
		case CommandDone:
			if r.Reason != "" {
				return errf(http.StatusBadRequest, CodeInvalidReport, `A "done" result has no "reason" (command %q).`, r.ID)
			}
		case CommandFailed:
			if strings.TrimSpace(r.Reason) == "" {
				return errf(http.StatusBadRequest, CodeInvalidReport, `A "failed" result needs a "reason" (command %q).`, r.ID)
			}
		default:
			return errf(http.StatusBadRequest, CodeInvalidReport, `Field "result" must be "done" or "failed" (command %q).`, r.ID)
		}
		if err := text("command_results.reason", &r.Reason, maxReason); err != nil {
			return err
		}
	}
	if in.Report == nil {
		return nil
	}
	return s.validateReport(in.Report)
}

func (s *Service) validateReport(r *Report) error {
	h := &r.Host
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"host.computer_name", &h.ComputerName, maxName}, {"host.mac_serial", &h.MacSerial, maxVersion},
		{"host.hardware_uuid", &h.HardwareUUID, maxID}, {"host.macos_user", &h.MacOSUser, maxName},
		{"host.macos_version", &h.MacOSVersion, maxVersion}, {"host.desktop_version", &h.DesktopVersion, maxVersion}} {
		if err := text(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if h.ComputerName == "" || h.HardwareUUID == "" || h.DesktopVersion == "" {
		return errf(http.StatusBadRequest, CodeInvalidReport, `The host report needs "computer_name", "hardware_uuid" and "desktop_version".`)
	}
	if h.CPU != CPUIntel && h.CPU != CPUAppleSilicon {
		return errf(http.StatusBadRequest, CodeInvalidReport, `Field "host.cpu" must be "intel" or "apple_silicon".`)
	}
	switch h.DesktopState {
	case DesktopActivatedSSO, DesktopActivatedKey, DesktopDeactivated:
	default:
		return errf(http.StatusBadRequest, CodeInvalidReport, `Field "host.desktop_state" must be "activated_sso", "activated_key" or "deactivated".`)
	}
	if len(r.VMs) > s.Config.MaxVMs {
		return errf(http.StatusBadRequest, CodeTooManyVMs, "The report lists %d VMs; at most %d are accepted.", len(r.VMs), s.Config.MaxVMs)
	}
	ids := make(map[string]bool, len(r.VMs))
	for i := range r.VMs {
		v := &r.VMs[i]
		for _, f := range []struct {
			name string
			v    *string
			max  int
		}{{"id", &v.ID, maxID}, {"name", &v.Name, maxName}, {"guest_os", &v.GuestOS, maxName}, {"os_edition", &v.OSEdition, maxName},
			{"os_build", &v.OSBuild, maxVersion}, {"serial", &v.Serial, maxVersion}, {"golden_image_id", &v.GoldenImageID, maxID},
			{"tools_version", &v.ToolsVersion, maxVersion}} {
			if err := text("vms["+itoa(i)+"]."+f.name, f.v, f.max); err != nil {
				return err
			}
		}
		if v.ID == "" {
			return errf(http.StatusBadRequest, CodeInvalidReport, `VM %d has no "id".`, i)
		}
		if ids[v.ID] {
			return errf(http.StatusBadRequest, CodeDuplicateVM, "VM id %q appears more than once in the report.", v.ID)
		}
		ids[v.ID] = true
		switch v.State {
		case StateRunning, StateStopped, StateSuspended, StateUnknown:
		default:
			return errf(http.StatusBadRequest, CodeInvalidReport, `Field "vms[%d].state" must be "running", "stopped", "suspended" or "unknown".`, i)
		}
		if v.Source == "" {
			v.Source = SourceOther
		}
		switch v.Source {
		case SourceOther:
			if v.GoldenImageID != "" {
				return errf(http.StatusBadRequest, CodeInvalidReport, `Field "vms[%d].golden_image_id" is only for source "golden_image".`, i)
			}
		case SourceGoldenImage:
		default:
			return errf(http.StatusBadRequest, CodeInvalidReport, `Field "vms[%d].source" must be "golden_image" or "other".`, i)
		}
		if v.Encryption == "" {
			v.Encryption = EncryptionNone
		}
		switch v.Encryption {
		case EncryptionNone, EncryptionCustomPassword, EncryptionLicenseBound:
		default:
			return errf(http.StatusBadRequest, CodeInvalidReport, `Field "vms[%d].encryption" must be "none", "custom_password" or "license_bound".`, i)
		}
		v.LastUsedAt = store.At(v.LastUsedAt.Time)
	}
	return nil
}

// text trims *v and checks its length and characters.
func text(field string, v *string, max int) error {
	*v = strings.TrimSpace(*v)
	if len(*v) > max {
		return errf(http.StatusBadRequest, CodeInvalidReport, "Field %q is longer than %d bytes.", field, max)
	}
	if !utf8.ValidString(*v) {
		return errf(http.StatusBadRequest, CodeInvalidReport, "Field %q is not valid UTF-8.", field)
	}
	for _, r := range *v {
		if r < 0x20 || r == 0x7f {
			return errf(http.StatusBadRequest, CodeInvalidReport, "Field %q contains a control character.", field)
		}
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// hashOf is a short, stable hash of v's JSON (the answer's sections).
func hashOf(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// fieldHasher hashes strings separated by a byte that validated text never
// contains (control characters are refused), so no two field lists collide
// by shifting text between fields.
type fieldHasher struct{ h hash.Hash }

func newFieldHasher() fieldHasher { return fieldHasher{sha256.New()} }

func (f fieldHasher) add(vs ...string) {
	for _, v := range vs {
		_, _ = io.WriteString(f.h, v)
		_, _ = f.h.Write([]byte{0})
	}
}

func (f fieldHasher) sum() string {
	var b [sha256.Size]byte
	return hex.EncodeToString(f.h.Sum(b[:0])[:16])
}

// vmContentHash hashes what a VM report says, so an unchanged VM is not
// rewritten.
func vmContentHash(v VMReport) string {
	f := newFieldHasher()
	f.add(v.ID, v.Name, v.State, v.GuestOS, v.OSEdition, v.OSBuild, v.Serial, v.Source, v.GoldenImageID, v.Encryption, v.ToolsVersion,
		strconv.FormatInt(lastUsedMillis(v.LastUsedAt), 10))
	return f.sum()
}

// reportHash is the server's hash of a validated report from its host
// fields and its VMs' content hashes in id order (so the client's order
// does not matter). vmHashes[i] is the content hash of r.VMs[i].
func reportHash(r *Report, vmHashes []string) string {
	order := make([]int, len(r.VMs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(r.VMs[a].ID, r.VMs[b].ID) })
	f := newFieldHasher()
	h := r.Host
	f.add(h.ComputerName, h.MacSerial, h.HardwareUUID, h.MacOSUser, h.CPU, h.MacOSVersion, h.DesktopVersion, h.DesktopState)
	for _, i := range order {
		f.add(vmHashes[i])
	}
	return f.sum()
}

func lastUsedMillis(t store.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return store.Millis(t.Time)
}
