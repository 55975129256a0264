package clientapi

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"gatehouse/internal/fleet"
)

// MaxCheckInBody is the largest check-in body: a report of fleet's MaxVMs
// (200) VMs with every field at a realistic length fits with room to spare.
const MaxCheckInBody = 256 << 10

// MountFleet adds the fleet check-in (spec 07) to the client API (New does
// it when Config.Fleet is set; tests mount it on handlers they build).
func (h *Handler) MountFleet(svc *fleet.Service) {
	h.fleet = svc
	h.route("POST", Prefix+"checkin", h.checkin)
}

// ---- check-in wire types (mirror openapi.yaml CheckInRequest/Response) ----

type checkinRequest struct {
	Seq            int64             `json:"seq"`
	Trigger        string            `json:"trigger"`
	Known          *knownJSON        `json:"known"`
	Report         *reportJSON       `json:"report"`
	CommandResults []commandResultIn `json:"command_results"`
}

type knownJSON struct {
	AnswerHash string `json:"answer_hash"`
	ReportHash string `json:"report_hash"`
}

type reportJSON struct {
	Host *hostJSON `json:"host"`
	VMs  []vmJSON  `json:"vms"`
}

type hostJSON struct {
	ComputerName   string `json:"computer_name"`
	MacSerial      string `json:"mac_serial"`
	HardwareUUID   string `json:"hardware_uuid"`
	MacOSUser      string `json:"macos_user"`
	CPU            string `json:"cpu"`
	MacOSVersion   string `json:"macos_version"`
	DesktopVersion string `json:"desktop_version"`
	DesktopState   string `json:"desktop_state"`
}

type vmJSON struct {
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	State         string  `json:"state"`
	GuestOS       string  `json:"guest_os"`
	OSEdition     string  `json:"os_edition"`
	OSBuild       string  `json:"os_build"`
	Serial        string  `json:"serial"`
	Source        string  `json:"source"`
	GoldenImageID string  `json:"golden_image_id"`
	Encryption    string  `json:"encryption"`
	ToolsVersion  string  `json:"tools_version"`
	LastUsedAt    *string `json:"last_used_at"`
}

type commandResultIn struct {
	ID     string `json:"id"`
	Result string `json:"result"`
	Reason string `json:"reason"`
}

type checkinResponse struct {
	Status           string          `json:"status"`
	Report           string          `json:"report"`
	ReportHash       string          `json:"report_hash"`
	AnswerHash       string          `json:"answer_hash"`
	Sections         *fleet.Sections `json:"sections,omitempty"`
	Commands         []commandOut    `json:"commands"`
	NextCheckinAfter int64           `json:"next_checkin_after"`
	NextCheckinAt    string          `json:"next_checkin_at"`
}

type commandOut struct {
	ID       string `json:"id"`
	VMID     string `json:"vm_id"`
	Kind     string `json:"kind"`
	IssuedAt string `json:"issued_at"`
}

func (h *Handler) checkin(w http.ResponseWriter, r *http.Request) {
	var req checkinRequest
	if !decodeLimit(w, r, &req, false, MaxCheckInBody) {
		return
	}
	in := fleet.CheckIn{Seq: req.Seq, Trigger: req.Trigger, IP: h.cfg.ClientIP(r)}
	if req.Known != nil {
		in.Known = &fleet.Known{AnswerHash: req.Known.AnswerHash, ReportHash: req.Known.ReportHash}
	}
	if req.Report != nil {
		if req.Report.Host == nil {
			writeError(w, http.StatusBadRequest, fleet.CodeInvalidReport, `Field "report.host" is required.`)
			return
		}
		if req.Report.VMs == nil {
			writeError(w, http.StatusBadRequest, fleet.CodeInvalidReport, `Field "report.vms" is required (an empty list when there are none).`)
			return
		}
		hj := req.Report.Host
		rep := &fleet.Report{Host: fleet.Host{ComputerName: hj.ComputerName, MacSerial: hj.MacSerial, HardwareUUID: hj.HardwareUUID,
			MacOSUser: hj.MacOSUser, CPU: hj.CPU, MacOSVersion: hj.MacOSVersion, DesktopVersion: hj.DesktopVersion, DesktopState: hj.DesktopState}}
		rep.VMs = make([]fleet.VMReport, len(req.Report.VMs))
		for i, v := range req.Report.VMs {
			vm := fleet.VMReport{ID: v.ID, Name: v.Name, State: v.State, GuestOS: v.GuestOS, OSEdition: v.OSEdition, OSBuild: v.OSBuild,
				Serial: v.Serial, Source: v.Source, GoldenImageID: v.GoldenImageID, Encryption: v.Encryption, ToolsVersion: v.ToolsVersion}
			if v.LastUsedAt != nil {
				t, err := time.Parse(time.RFC3339, *v.LastUsedAt)
				if err != nil || t.Year() < 2000 || t.Year() > 9999 {
					writeError(w, http.StatusBadRequest, fleet.CodeInvalidReport, fmt.Sprintf(`Field "report.vms[%d].last_used_at" must be an RFC 3339 date-time.`, i))
					return
				}
				vm.LastUsedAt.Time = t
			}
			rep.VMs[i] = vm
		}
		in.Report = rep
	}
	for _, cr := range req.CommandResults {
		in.Results = append(in.Results, fleet.CommandResult{ID: cr.ID, Result: cr.Result, Reason: cr.Reason})
	}
	ans, err := h.fleet.CheckIn(r.Context(), bearer(r), in)
	if err != nil {
		var fe *fleet.Error
		if errors.As(err, &fe) {
			writeError(w, fe.Status, fe.Code, fe.Message)
			return
		}
		h.fail(w, r, err)
		return
	}
	out := checkinResponse{Status: ans.Status, Report: ans.Report, ReportHash: ans.ReportHash, AnswerHash: ans.AnswerHash,
		Sections: ans.Sections, Commands: make([]commandOut, 0, len(ans.Commands)),
		NextCheckinAfter: int64(ans.NextCheckIn / time.Second),
		NextCheckinAt:    time.Now().UTC().Add(ans.NextCheckIn).Truncate(time.Second).Format(time.RFC3339)}
	for _, c := range ans.Commands {
		out.Commands = append(out.Commands, commandOut{ID: c.ID, VMID: c.VMID, Kind: c.Kind, IssuedAt: c.IssuedAt.UTC().Format(time.RFC3339)})
	}
	writeJSON(w, http.StatusOK, out)
}
