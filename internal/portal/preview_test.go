package portal_test

import (
	"strings"
	"testing"

	"gatehouse/internal/portal"
)

// TestPreviewIsExact checks the effect preview against an inventory where
// each installation's outcome is known by hand.
func TestPreviewIsExact(t *testing.T) {
	img := &portal.Image{ID: "img", Name: "Corp", AppleSilicon: portal.Arch{Enabled: true, URL: "https://f/a", SHA256: sha('a')},
		Intel: portal.Arch{Enabled: true, URL: "https://f/i", SHA256: sha('b')}}
	gi := portal.DefaultSet()
	gi.On = true
	before := &portal.Policy{ID: "p", Name: "Design", ImageID: "img", Groups: []string{"k1"}, GoldenImage: gi, Other: portal.DefaultSet()}
	after := &portal.Policy{ID: "p", Name: "Design", ImageID: "img", Groups: []string{"k1", "k2"}, GoldenImage: gi, Other: portal.DefaultSet()}
	after.Other.On = true
	after.Other.Values["clipboard"] = "disconnect"
	hosts := []portal.HostFacts{
		{ID: "h1", KeyID: "k1", CPU: portal.CPUAppleSilicon, VMs: []portal.VMFacts{{ID: "h1-mac", OS: portal.OSMacOS, SourceID: "img"}, {ID: "h1-win", OS: portal.OSWindows}}},
		{ID: "h2", KeyID: "k1", CPU: portal.CPUIntel, VMs: []portal.VMFacts{{ID: "h2-lin", OS: portal.OSLinux}}},
		{ID: "h3", KeyID: "k1", CPU: portal.CPUAppleSilicon},
		{ID: "h4", KeyID: "k2", CPU: portal.CPUAppleSilicon, VMs: []portal.VMFacts{{ID: "h4-mac", OS: portal.OSMacOS}}},
	}
	p := portal.ComputePreview(portal.PreviewInput{Enterprise: true, Before: before, BeforeImage: img, After: after, AfterImage: img, Hosts: hosts})
	// h1 (Windows VM now managed), h2 (Linux VM now managed), h4 (joins
	// the policy); h3 has no VM and its policy did not change.
	if p.Installations != 3 || p.VMs != 3 || p.TotalInstallations != 4 || p.TotalVMs != 4 {
		t.Fatalf("reach %d/%d installations, %d/%d VMs; want 3/4 and 3/4", p.Installations, p.TotalInstallations, p.VMs, p.TotalVMs)
	}
	changes := map[string][2]int{}
	for _, c := range p.Changes {
		changes[c.What] = [2]int{c.Installations, c.VMs}
	}
	want := map[string][2]int{
		"1 group added": {1, 0}, // h4 gets the policy; its macOS VM is from another source, whose set was off
		"VMs from other sources: settings switched on":                   {2, 2},
		"VMs from other sources: Clipboard synchronization → Disconnect": {2, 2},
	}
	for what, n := range want {
		if changes[what] != n {
			t.Errorf("change %q reaches %v, want %v (all: %v)", what, changes[what], n, changes)
		}
	}
	if len(changes) != len(want) {
		t.Errorf("changes %v, want exactly %v", changes, want)
	}
	var texts []string
	for _, ig := range p.Ignored {
		texts = append(texts, ig.Text())
	}
	all := strings.Join(texts, "\n")
	for _, line := range []string{
		"clipboard setting ignored on 2 macOS VMs on Apple silicon",       // h1-mac (golden image set) and h4-mac (other set)
		"VM app sharing setting ignored on 1 Linux VM on Intel",           // h2-lin
		"lock-on-suspend setting ignored on 2 macOS VMs on Apple silicon", // both macOS VMs
	} {
		if !strings.Contains(all, line) {
			t.Errorf("preview lacks %q; has:\n%s", line, all)
		}
	}
	if strings.Contains(all, "Windows") {
		t.Errorf("a Windows VM ignores nothing, yet:\n%s", all)
	}

	// A new policy: everything in its groups is reached.
	p = portal.ComputePreview(portal.PreviewInput{Enterprise: true, After: after, AfterImage: img, Hosts: hosts})
	if p.Installations != 4 || p.VMs != 4 || len(p.Changes) != 1 || p.Changes[0].What != "New policy" {
		t.Fatalf("new policy: %+v", p)
	}
}
