package fleet

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/csvexport"
	"gatehouse/internal/store"
)

// What the inventory shows for a row: each column's text, and the reasons
// a row is incomplete or may be outdated (spec 05: "missing/incomplete
// rows are explained").

// StaleAfter is how long without a report makes a row "not reported
// since …": installations check in at least daily (spec 07), so two days
// of silence means the computer is off, offline or uninstalled.
const StaleAfter = 48 * time.Hour

// FullReportMajor is the first Desktop major version whose check-in
// carries every inventory field; older clients send the VM's name, ID and
// state only.
const FullReportMajor = 26

// CommandPending says the last command waits for the client.
func (m *InventoryRow) CommandPending() bool {
	return m.LastCommandState == CommandPending || m.LastCommandState == CommandDelivered
}

// Gone says a full report of its installation no longer listed the VM.
func (m *InventoryRow) Gone() bool { return !m.GoneAt.IsZero() }

// Cell is the text of column key for this row ("" when not reported).
func (m *InventoryRow) Cell(key string) string {
	c, _ := ColumnByKey(key)
	switch key {
	case "name":
		return m.Name
	case "user":
		return m.MacOSUser
	case "computer":
		return m.ComputerName
	case "vm_id":
		return m.VMReport.ID
	case "state":
		return c.OptionLabel(m.State)
	case "status":
		if m.Gone() {
			return "Gone"
		}
		if m.Deactivated {
			return c.OptionLabel("deactivated")
		}
		return c.OptionLabel(m.Status)
	case "os":
		return m.GuestOS
	case "edition":
		return m.OSEdition
	case "build":
		return m.OSBuild
	case "serial":
		return m.Serial
	case "source":
		return c.OptionLabel(m.Source)
	case "encryption":
		return c.OptionLabel(m.Encryption)
	case "command":
		return CommandLabel(m.LastCommandKind, m.LastCommandState)
	case "last_used":
		return utc(m.LastUsedAt)
	case "last_reported":
		return utc(m.LastSeenAt)
	case "desktop_version":
		return m.DesktopVersion
	case "desktop_state":
		return c.OptionLabel(m.DesktopState)
	case "tools":
		return m.ToolsVersion
	case "mac_serial":
		return m.MacSerial
	case "cpu":
		return c.OptionLabel(m.CPU)
	}
	return ""
}

func utc(t store.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04")
}

// Notes explains why the row is incomplete or may be outdated, most
// important first; none for a complete, fresh row.
func (m *InventoryRow) Notes(now time.Time) []string {
	var out []string
	if m.Gone() {
		out = append(out, fmt.Sprintf("Gone: its computer's report of %s no longer listed this VM (removed, or moved to another Mac). It is kept for history.", utc(m.GoneAt)+" UTC"))
	}
	if m.Deactivated {
		out = append(out, "Desktop is deactivated on this computer, so the VM is no longer reported; what you see is its last report.")
	}
	if !m.Gone() && now.Sub(m.LastSeenAt.Time) > StaleAfter {
		days := int(now.Sub(m.LastSeenAt.Time).Hours() / 24)
		out = append(out, fmt.Sprintf("Not reported since %s UTC (%d days): the computer has not checked in since, so these details may be outdated.", utc(m.LastSeenAt), days))
	}
	missing := m.missingDetails()
	if major, ok := desktopMajor(m.DesktopVersion); ok && major < FullReportMajor && len(missing) > 0 {
		out = append(out, fmt.Sprintf("Desktop %s is an older client that does not report %s; they appear once Desktop is updated to %d or later and checks in.", m.DesktopVersion, strings.Join(missing, ", "), FullReportMajor))
		return out
	}
	if m.DesktopVersion == "" && m.ComputerName == "" {
		out = append(out, "Its computer has not reported its host details (computer name, Desktop version) yet.")
	}
	if m.ToolsVersion == "" {
		out = append(out, "Guest tools are not installed in this VM: the guest OS edition and build may be missing or outdated.")
	} else if m.GuestOS == "" && m.LastUsedAt.IsZero() {
		out = append(out, "The VM has not been started since it was registered; its guest OS is reported after its first start.")
	}
	return out
}

// missingDetails names the VM details a full report carries that this row
// lacks.
func (m *InventoryRow) missingDetails() []string {
	var out []string
	for _, f := range []struct{ v, name string }{{m.GuestOS, "guest OS"}, {m.OSEdition, "OS edition"}, {m.OSBuild, "OS build"},
		{m.Serial, "VM serial number"}, {m.ToolsVersion, "guest tools version"}} {
		if f.v == "" {
			out = append(out, f.name)
		}
	}
	return out
}

func desktopMajor(v string) (int, bool) {
	head, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(head)
	return n, err == nil
}

// CSVWriter writes inventory rows as CSV, one line per VM with every
// column, when it went, and the notes. Rows go out through csvexport's
// buffered writer as they come, so an export of any size uses the same
// memory.
type CSVWriter struct {
	w   *csvexport.Writer
	now time.Time
}

// NewCSVWriter writes the header line.
func NewCSVWriter(w io.Writer, now time.Time) (*CSVWriter, error) {
	head := make([]string, 0, len(Columns)+2)
	for _, c := range Columns {
		head = append(head, c.Label)
	}
	head = append(head, "Gone (UTC)", "Notes")
	cw, err := csvexport.New(w, head...)
	if err != nil {
		return nil, err
	}
	return &CSVWriter{w: cw, now: now}, nil
}

// Write writes one VM (VM and computer names come from users' Macs:
// csvexport keeps every cell from running as a spreadsheet formula).
func (cw *CSVWriter) Write(m *InventoryRow) error {
	rec := make([]string, 0, len(Columns)+2)
	for _, c := range Columns {
		rec = append(rec, m.Cell(c.Key))
	}
	return cw.w.Row(append(rec, utc(m.GoneAt), strings.Join(m.Notes(cw.now), " "))...)
}

// Close flushes what is left.
func (cw *CSVWriter) Close() error { return cw.w.Close() }
