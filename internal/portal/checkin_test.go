package portal_test

import (
	"context"
	"testing"

	"gatehouse/internal/fleet"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/portal"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// agentSim is one installation checking in through the fleet service.
type agentSim struct {
	t          *testing.T
	fl         *fleet.Service
	credential string
	seq        int64
	known      fleet.Known
	host       fleet.Host
}

func (a *agentSim) report(vms ...fleet.VMReport) *fleet.Answer {
	a.t.Helper()
	a.seq++
	ans, err := a.fl.CheckIn(context.Background(), a.credential, fleet.CheckIn{Seq: a.seq, Trigger: "vm_created", Report: &fleet.Report{Host: a.host, VMs: vms}})
	if err != nil {
		a.t.Fatalf("report: %v", err)
	}
	a.known = fleet.Known{AnswerHash: ans.AnswerHash, ReportHash: ans.ReportHash}
	return ans
}

func (a *agentSim) checkIn() *fleet.Answer {
	a.t.Helper()
	k := a.known
	ans, err := a.fl.CheckIn(context.Background(), a.credential, fleet.CheckIn{Seq: a.seq, Trigger: "daily", Known: &k})
	if err != nil {
		a.t.Fatalf("check-in: %v", err)
	}
	if ans.Status != fleet.AnswerUnchanged {
		a.known = fleet.Known{AnswerHash: ans.AnswerHash, ReportHash: ans.ReportHash}
	}
	return ans
}

// TestCheckInAnswerCarriesEffectiveSettings: an installation of a
// sublicense group gets its policy, the golden image for its CPU until it
// has a VM from it (and again once that VM is gone), the VM settings that
// apply to each VM's guest OS; a change reaches it at its next check-in,
// and the answer's hash moves only when something it applies changed.
func TestCheckInAnswerCarriesEffectiveSettings(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, license.EditionEnterprise, false)
		fl := fleet.New(db, fleet.DefaultConfig())
		fl.Sections = e.svc
		e.svc.Changed = func(ctx context.Context, tx *store.Tx, acct string) error {
			return fleet.BumpSettings(ctx, tx, acct, e.clock.now())
		}
		e.svc.CountVMs = fleet.CountVMsByImage

		img := e.image(t, "Corp Windows")
		gi := portal.DefaultSet()
		gi.On = true
		gi.Values["clipboard"] = "disconnect"
		other := portal.DefaultSet()
		other.On = true
		in := portal.PolicyInput{Name: "Design", ImageID: img.ID, Groups: []string{e.k1}, Controls: portal.Controls{LicenseBound: true}, GoldenImage: gi, Other: other}
		pol, err := e.svc.SavePolicy(ctx, e.admin, "", in, actor)
		if err != nil {
			t.Fatal(err)
		}
		hw := ids.New()
		act, err := e.lic.Activate(ctx, license.ActivateInput{Key: e.keys[e.k1], Device: license.Device{HardwareUUID: hw, ComputerName: "Mia's MacBook", MacOSUser: "mia", AppVersion: "26.1.0"}})
		if err != nil {
			t.Fatal(err)
		}
		a := &agentSim{t: t, fl: fl, credential: act.Credential,
			host: fleet.Host{ComputerName: "Mia's MacBook", HardwareUUID: hw, CPU: portal.CPUAppleSilicon, DesktopVersion: "26.1.0", DesktopState: "activated_key"}}

		ans := a.report()
		if ans.Sections.ImageOffer == nil || ans.Sections.ImageOffer.URL != img.AppleSilicon.URL || ans.Sections.ImageOffer.Architecture != portal.CPUAppleSilicon {
			t.Fatalf("first answer offers %+v, want the Apple silicon image", ans.Sections.ImageOffer)
		}
		if ans.Sections.EffectiveSettings.Policy["name"] != "Design" {
			t.Fatalf("policy section: %+v", ans.Sections.EffectiveSettings.Policy)
		}
		giVM := fleet.VMReport{ID: "vm-gi", Name: "Corp Windows", State: "running", GuestOS: "macOS 15.2", Source: "golden_image", GoldenImageID: img.ID, Encryption: "none"}
		winVM := fleet.VMReport{ID: "vm-win", Name: "Win", State: "stopped", GuestOS: "Windows 11", Source: "other", Encryption: "none"}
		linVM := fleet.VMReport{ID: "vm-lin", Name: "Ubuntu", State: "stopped", GuestOS: "Ubuntu 24.04", Source: "other", Encryption: "none"}
		ans = a.report(giVM, winVM, linVM)
		if ans.Sections.ImageOffer != nil {
			t.Fatalf("offered the image again while a VM from it exists: %+v", ans.Sections.ImageOffer)
		}
		vms := ans.Sections.EffectiveSettings.VMSettings
		giSet, _ := vms["vm-gi"].(map[string]any)
		if giSet == nil || giSet["set"] != portal.SetGoldenImage {
			t.Fatalf("golden-image VM settings: %+v", vms["vm-gi"])
		}
		if _, ok := giSet["settings"].(map[string]string)["clipboard"]; ok {
			t.Fatal("clipboard sent to a macOS VM on Apple silicon")
		}
		if winSet, _ := vms["vm-win"].(map[string]any); winSet["set"] != portal.SetOther || winSet["settings"].(map[string]string)["no_vm_apps"] != "false" {
			t.Fatalf("Windows VM settings: %+v", vms["vm-win"])
		}
		if linSet, _ := vms["vm-lin"].(map[string]any); linSet["settings"].(map[string]string)["no_vm_apps"] != "" {
			t.Fatalf("Windows-only setting sent to Linux: %+v", linSet)
		}
		if n, _ := fleet.CountVMsByImage(ctx, db, e.admin.AccountID, []string{img.ID}); n[img.ID] != 1 {
			t.Fatalf("image VM count %v, want 1", n)
		}
		base := ans.AnswerHash
		if got := a.checkIn(); got.Status != fleet.AnswerUnchanged {
			t.Fatalf("nothing changed, got %s", got.Status)
		}

		// Irrelevant to this Mac: the image's Intel URL, and the clipboard of
		// the golden-image set (its only golden-image VM is macOS on Apple
		// silicon). It gets a full answer (settings were bumped) with the
		// same hash.
		if _, err := e.svc.SaveImage(ctx, e.admin, img.ID, portal.ImageInput{Name: img.Name, Description: img.Description, AppleSilicon: img.AppleSilicon,
			Intel: portal.Arch{Enabled: true, URL: "https://files.example.com/new-intel.pvmp", SHA256: sha('c')}}, actor); err != nil {
			t.Fatal(err)
		}
		if n, _ := fleet.CountVMsByImage(ctx, db, e.admin.AccountID, []string{img.ID}); n[img.ID] != 1 {
			t.Fatalf("after the URL changed the image counts %v VMs, want the old VM still counted", n)
		}
		in.GoldenImage.Values["clipboard"] = "bidirectional"
		if _, err := e.svc.SavePolicy(ctx, e.admin, pol.ID, in, actor); err != nil {
			t.Fatal(err)
		}
		if got := a.checkIn(); got.Status != fleet.AnswerOK || got.AnswerHash != base {
			t.Fatalf("irrelevant change: status %s, hash changed %v", got.Status, got.AnswerHash != base)
		}
		if got := a.checkIn(); got.Status != fleet.AnswerUnchanged {
			t.Fatalf("after the full answer: %s, want unchanged", got.Status)
		}
		// Relevant: USB for VMs from other sources. The preview, computed
		// from the inventory, says what the check-in then shows.
		in.Other.Values["no_usb"] = "true"
		e.svc.Hosts = portal.FleetHosts(db)
		prev, err := e.svc.PreviewPolicy(ctx, e.admin, pol.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		if prev.Installations != 1 || prev.VMs != 2 || prev.TotalVMs != 3 || len(prev.Changes) != 1 {
			t.Fatalf("preview: %+v", prev)
		}
		found := false
		for _, ig := range prev.Ignored {
			found = found || ig.Text() == "clipboard setting ignored on 1 macOS VM on Apple silicon"
		}
		if !found {
			t.Fatalf("preview ignored lines: %+v", prev.Ignored)
		}
		if _, err := e.svc.SavePolicy(ctx, e.admin, pol.ID, in, actor); err != nil {
			t.Fatal(err)
		}
		got := a.checkIn()
		if got.Status != fleet.AnswerOK || got.AnswerHash == base {
			t.Fatalf("relevant change: status %s, hash changed %v", got.Status, got.AnswerHash != base)
		}
		if got.Sections.EffectiveSettings.VMSettings["vm-win"].(map[string]any)["settings"].(map[string]string)["no_usb"] != "true" {
			t.Fatal("the new setting did not arrive")
		}

		// The golden-image VM is gone: the image is offered again.
		ans = a.report(winVM, linVM)
		if ans.Sections.ImageOffer == nil || ans.Sections.ImageOffer.ID != img.ID {
			t.Fatalf("after the golden-image VM went: offer %+v", ans.Sections.ImageOffer)
		}
		// Policy deleted: no policy section, no offer; settings unlocked.
		if err := e.svc.DeletePolicy(ctx, e.admin, pol.ID, actor); err != nil {
			t.Fatal(err)
		}
		got = a.checkIn()
		if got.Status != fleet.AnswerOK || len(got.Sections.EffectiveSettings.Policy) != 0 || got.Sections.ImageOffer != nil {
			t.Fatalf("after deleting the policy: %s %+v", got.Status, got.Sections)
		}
		// A profile still delivers its payloads.
		prof, err := e.svc.SaveProfile(ctx, e.admin, "", portal.ProfileInput{Name: "Lab", UpdatesEnabled: true,
			AppleSilicon: portal.Payload{Enabled: true, Name: "Lab VM", URL: "https://files.example.com/lab.pvmp", SHA256: sha('d')}}, actor)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ApplyProfile(ctx, e.admin, e.k1, prof.ID, actor); err != nil {
			t.Fatal(err)
		}
		got = a.checkIn()
		if got.Status != fleet.AnswerOK || len(got.Sections.ProfilePayloads) != 2 || got.Sections.ProfilePayloads[0].Type != "vm_apple_silicon" || !got.Sections.UpdateSettings.Managed {
			t.Fatalf("profile payloads: %s %+v", got.Status, got.Sections)
		}
	})
}
