package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Check-in triggers (spec 07) and the follow-up that carries results.
const (
	TriggerLaunch            = "launch"
	TriggerActivation        = "activation"
	TriggerVMCreated         = "vm_created"
	TriggerVMStateChanged    = "vm_state_changed"
	TriggerVMSettingsChanged = "vm_settings_changed"
	TriggerNetworkUp         = "network_up"
	TriggerDaily             = "daily"
	TriggerCommandResult     = "command_result"
)

// Triggers lists the triggers a user may ask for.
var Triggers = []string{TriggerLaunch, TriggerActivation, TriggerVMCreated, TriggerVMStateChanged,
	TriggerVMSettingsChanged, TriggerNetworkUp, TriggerDaily}

// HostReport is the host part of a check-in.
type HostReport struct {
	ComputerName   string `json:"computer_name"`
	MacSerial      string `json:"mac_serial,omitempty"`
	HardwareUUID   string `json:"hardware_uuid"`
	MacOSUser      string `json:"macos_user,omitempty"`
	CPU            string `json:"cpu"`
	MacOSVersion   string `json:"macos_version,omitempty"`
	DesktopVersion string `json:"desktop_version"`
	DesktopState   string `json:"desktop_state"`
}

// VM is a simulated VM on the simulated Mac, as it is reported.
type VM struct {
	ID            string     `json:"id"`
	Name          string     `json:"name,omitempty"`
	State         string     `json:"state"`
	GuestOS       string     `json:"guest_os,omitempty"`
	OSEdition     string     `json:"os_edition,omitempty"`
	OSBuild       string     `json:"os_build,omitempty"`
	Serial        string     `json:"serial,omitempty"`
	Source        string     `json:"source,omitempty"`
	GoldenImageID string     `json:"golden_image_id,omitempty"`
	Encryption    string     `json:"encryption,omitempty"`
	ToolsVersion  string     `json:"tools_version,omitempty"`
	LastUsedAt    *time.Time `json:"last_used_at,omitempty"`
}

// FleetReport is a full report.
type FleetReport struct {
	Host HostReport `json:"host"`
	VMs  []VM       `json:"vms"`
}

// Known carries the hashes of the last answer.
type Known struct {
	AnswerHash string `json:"answer_hash"`
	ReportHash string `json:"report_hash"`
}

// CommandResult acknowledges a command.
type CommandResult struct {
	ID     string `json:"id"`
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
}

// CheckInRequest is the body of POST /checkin.
type CheckInRequest struct {
	Seq            int64           `json:"seq"`
	Trigger        string          `json:"trigger"`
	Known          *Known          `json:"known,omitempty"`
	Report         *FleetReport    `json:"report,omitempty"`
	CommandResults []CommandResult `json:"command_results,omitempty"`
	// reportHash is the client's hash of Report (computed once).
	reportHash string
}

// Command is a command the server delivered.
type Command struct {
	ID       string    `json:"id"`
	VMID     string    `json:"vm_id"`
	Kind     string    `json:"kind"`
	IssuedAt time.Time `json:"issued_at"`
}

// CheckInResponse is the answer.
type CheckInResponse struct {
	Status           string          `json:"status"`
	Report           string          `json:"report"`
	ReportHash       string          `json:"report_hash"`
	AnswerHash       string          `json:"answer_hash"`
	Sections         json.RawMessage `json:"sections,omitempty"`
	Commands         []Command       `json:"commands"`
	NextCheckinAfter int64           `json:"next_checkin_after"`
	NextCheckinAt    time.Time       `json:"next_checkin_at"`
}

// CheckIn sends one check-in.
func (c *Client) CheckIn(ctx context.Context, credential string, req *CheckInRequest) (*CheckInResponse, error) {
	var out CheckInResponse
	if err := c.do(ctx, "POST", "/api/client/v1/checkin", credential, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Mac is the simulated host's fleet state, kept in State: its VMs, its
// report sequence, what it last received, and the commands it executed
// (so that it never executes one id twice, even when the server delivers
// it again before the acknowledgement arrived).
type Mac struct {
	CPU          string `json:"cpu"`
	MacOSVersion string `json:"macos_version"`
	VMs          []VM   `json:"vms"`
	Seq          int64  `json:"seq"`
	Known        *Known `json:"known,omitempty"`
	// SentHash is the client's hash of the last report the server took.
	SentHash string `json:"sent_hash,omitempty"`
	// Results are executed commands not yet acknowledged by the server.
	Results []CommandResult `json:"results,omitempty"`
	// Executed maps the ids of executed commands to their results (the
	// most recent maxExecuted).
	Executed   map[string]CommandResult `json:"executed,omitempty"`
	ExecOrder  []string                 `json:"exec_order,omitempty"`
	Sections   json.RawMessage          `json:"sections,omitempty"`
	NextAt     time.Time                `json:"next_checkin_at,omitzero"`
	Executions int                      `json:"executions"`
}

const maxExecuted = 1000

// NewMac returns a simulated Mac with no VMs.
func NewMac() *Mac {
	cpu := "apple_silicon"
	if randomInt(4) == 0 {
		cpu = "intel"
	}
	return &Mac{CPU: cpu, MacOSVersion: "15." + fmt.Sprint(randomInt(6)), Executed: map[string]CommandResult{}}
}

// NewVMID returns a VM ID in the form Desktop uses ({UUID}).
func NewVMID() string {
	d := NewDevice() // its hardware UUID is a random v4 UUID
	return "{" + strings.ToLower(d.HardwareUUID) + "}"
}

// guest OS choices for simulated VMs.
var guests = []struct{ os, edition, build, tools string }{
	{"Windows 11", "Pro", "26100.2605", "26.1.0"}, {"Windows 11", "Enterprise", "22631.4602", "26.0.1"},
	{"Ubuntu", "24.04 LTS", "6.8.0-49", "26.1.0"}, {"macOS", "Sequoia", "24C101", ""}, {"Windows 10", "Pro", "19045.5247", ""},
}

// NewVM returns a stopped VM named name (a guest OS is picked when os is "").
func NewVM(name, guestOS string) VM {
	g := guests[randomInt(len(guests))]
	if guestOS != "" {
		g.os, g.edition, g.build = guestOS, "", ""
	}
	serial := "Parallels-" + strings.ToUpper(strings.Join(strings.Fields(fmt.Sprintf("% x", []byte(randomString(16, "0123456789abcdef")))), " ")[:47])
	if g.os == "macOS" {
		serial = randomString(10, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
	}
	return VM{ID: NewVMID(), Name: name, State: "stopped", GuestOS: g.os, OSEdition: g.edition, OSBuild: g.build, Serial: serial,
		Source: "other", Encryption: "none", ToolsVersion: g.tools}
}

// FindVM returns the index of the VM named or with id ref, or -1.
func (m *Mac) FindVM(ref string) int {
	for i, v := range m.VMs {
		if v.ID == ref || strings.EqualFold(v.Name, ref) {
			return i
		}
	}
	return -1
}

// SetState changes a VM's state (start, stop, suspend); starting records
// last use.
func (m *Mac) SetState(ref, state string, now time.Time) error {
	i := m.FindVM(ref)
	if i < 0 {
		return fmt.Errorf("no VM %q", ref)
	}
	m.VMs[i].State = state
	if state == "running" {
		t := now.UTC().Truncate(time.Second)
		m.VMs[i].LastUsedAt = &t
	}
	return nil
}

// Report builds the full report of the simulated Mac.
func (s *State) Report() *FleetReport {
	m := s.Mac
	dstate := "activated_key"
	if s.Status != "active" {
		dstate = "deactivated"
	} else if s.License != nil && s.Method == "sso" {
		dstate = "activated_sso"
	}
	vms := m.VMs
	if vms == nil {
		vms = []VM{}
	}
	return &FleetReport{Host: HostReport{ComputerName: s.Device.ComputerName, MacSerial: s.Device.Serial, HardwareUUID: s.Device.HardwareUUID,
		MacOSUser: s.Device.MacOSUser, CPU: m.CPU, MacOSVersion: m.MacOSVersion, DesktopVersion: s.Device.AppVersion, DesktopState: dstate}, VMs: vms}
}

func clientHash(r *FleetReport) string {
	b, _ := json.Marshal(r)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// NextCheckIn builds the next check-in: the full report when anything
// changed since the server took the last one (or results are to be sent),
// else only the known hashes.
func (s *State) NextCheckIn(trigger string, forceReport bool) *CheckInRequest {
	if s.Mac == nil {
		s.Mac = NewMac()
	}
	m := s.Mac
	m.Seq++
	req := &CheckInRequest{Seq: m.Seq, Trigger: trigger, Known: m.Known, CommandResults: slices.Clone(m.Results)}
	rep := s.Report()
	req.reportHash = clientHash(rep)
	if forceReport || m.Known == nil || req.reportHash != m.SentHash || len(m.Results) > 0 {
		req.Report = rep
	}
	return req
}

// ApplyAnswer records an answer to req and executes the delivered commands
// on the simulated VMs (each id once); it returns the results to send.
func (s *State) ApplyAnswer(req *CheckInRequest, resp *CheckInResponse, now time.Time) []CommandResult {
	m := s.Mac
	// What was acknowledged is done with.
	if len(req.CommandResults) > 0 {
		acked := map[string]bool{}
		for _, r := range req.CommandResults {
			acked[r.ID] = true
		}
		m.Results = slices.DeleteFunc(m.Results, func(r CommandResult) bool { return acked[r.ID] })
	}
	if req.Report != nil && (resp.Report == "applied" || resp.Report == "duplicate") {
		if req.reportHash == "" {
			req.reportHash = clientHash(req.Report)
		}
		m.SentHash = req.reportHash
	}
	if resp.Status == "report_required" {
		m.SentHash = ""
	}
	m.Known = &Known{AnswerHash: resp.AnswerHash, ReportHash: resp.ReportHash}
	if len(resp.Sections) > 0 {
		m.Sections = resp.Sections
	}
	m.NextAt = now.Add(time.Duration(resp.NextCheckinAfter) * time.Second)
	for _, c := range resp.Commands {
		if prev, ok := m.Executed[c.ID]; ok {
			// Delivered again before our acknowledgement arrived: do not
			// execute it twice; acknowledge it again.
			if !slices.ContainsFunc(m.Results, func(r CommandResult) bool { return r.ID == c.ID }) {
				m.Results = append(m.Results, prev)
			}
			continue
		}
		res := m.execute(c, now)
		m.Executions++
		if m.Executed == nil {
			m.Executed = map[string]CommandResult{}
		}
		m.Executed[c.ID] = res
		m.ExecOrder = append(m.ExecOrder, c.ID)
		if len(m.ExecOrder) > maxExecuted {
			delete(m.Executed, m.ExecOrder[0])
			m.ExecOrder = m.ExecOrder[1:]
		}
		m.Results = append(m.Results, res)
	}
	return m.Results
}

func (m *Mac) execute(c Command, now time.Time) CommandResult {
	i := m.FindVM(c.VMID)
	if i < 0 || m.VMs[i].ID != c.VMID {
		return CommandResult{ID: c.ID, Result: "failed", Reason: "The virtual machine is not on this Mac."}
	}
	switch c.Kind {
	case "delete":
		m.VMs = slices.Delete(m.VMs, i, i+1)
	case "lock":
		m.VMs[i].State = "stopped"
		m.VMs[i].Encryption = "license_bound"
	case "restart":
		m.VMs[i].State = "running"
		t := now.UTC().Truncate(time.Second)
		m.VMs[i].LastUsedAt = &t
	case "redownload":
		if m.VMs[i].Source != "golden_image" {
			return CommandResult{ID: c.ID, Result: "failed", Reason: "The virtual machine was not made from a golden image."}
		}
		m.VMs[i].State = "stopped"
		m.VMs[i].Serial = randomString(10, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789")
	default:
		return CommandResult{ID: c.ID, Result: "failed", Reason: "Unknown command " + c.Kind + "."}
	}
	return CommandResult{ID: c.ID, Result: "done"}
}

// CheckInOutcome summarizes a SyncCheckIn.
type CheckInOutcome struct {
	Answers  []*CheckInResponse
	Executed []CommandResult
}

// SyncCheckIn checks in with trigger and follows the protocol to a rest:
// it sends the full report when the server asks for it, executes delivered
// commands and acknowledges them in a command_result check-in (at most a
// few rounds). Call s.Save afterwards (and save between rounds through
// save, so an executed command is recorded before it is acknowledged).
func (s *State) SyncCheckIn(ctx context.Context, c *Client, trigger string, now func() time.Time, save func() error) (*CheckInOutcome, error) {
	if s.Credential == "" {
		return nil, errors.New("this computer is not activated")
	}
	out := &CheckInOutcome{}
	force := false
	for round := 0; round < 5; round++ {
		req := s.NextCheckIn(trigger, force)
		resp, err := c.CheckIn(ctx, s.Credential, req)
		if err != nil {
			return out, err
		}
		out.Answers = append(out.Answers, resp)
		before := len(s.Mac.Executed)
		s.ApplyAnswer(req, resp, now())
		if len(s.Mac.Executed) > before {
			out.Executed = append(out.Executed, s.Mac.Results...)
		}
		if save != nil {
			if err := save(); err != nil {
				return out, err
			}
		}
		switch {
		case resp.Status == "report_required":
			force = true
		case len(s.Mac.Results) > 0:
			trigger, force = TriggerCommandResult, false
		default:
			return out, nil
		}
	}
	return out, nil
}
