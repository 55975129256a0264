package portal_test

import (
	"reflect"
	"testing"

	"gatehouse/internal/portal"
)

// TestApplicabilityPerGuestOS checks spec 05's "not for" column guest by
// guest.
func TestApplicabilityPerGuestOS(t *testing.T) {
	on := portal.DefaultSet()
	on.On = true
	cases := []struct {
		guest   portal.Guest
		ignored []string
	}{
		{portal.Guest{OS: portal.OSWindows, CPU: portal.CPUAppleSilicon}, nil},
		{portal.Guest{OS: portal.OSWindows, CPU: portal.CPUIntel}, nil},
		{portal.Guest{OS: portal.OSLinux, CPU: portal.CPUIntel}, []string{"no_mac_apps", "no_vm_apps", "no_vm_folders"}},
		{portal.Guest{OS: portal.OSMacOS, CPU: portal.CPUIntel}, []string{"lock_on_suspend", "no_mac_apps", "no_vm_apps", "no_vm_folders"}},
		{portal.Guest{OS: portal.OSMacOS, CPU: portal.CPUAppleSilicon}, []string{"clipboard", "developer_tools", "lock_on_suspend",
			"no_config_changes", "no_mac_apps", "no_smart_cards", "no_vm_apps", "no_vm_folders"}},
		{portal.Guest{OS: portal.OSLinux, CPU: portal.CPUAppleSilicon}, []string{"no_mac_apps", "no_vm_apps", "no_vm_folders"}},
	}
	for _, c := range cases {
		applied, ignored := on.For(c.guest)
		if !reflect.DeepEqual(ignored, c.ignored) {
			t.Errorf("%s: ignored %v, want %v", c.guest.Label(), ignored, c.ignored)
		}
		if len(applied)+len(ignored) != len(portal.Settings) {
			t.Errorf("%s: %d applied + %d ignored, want all %d", c.guest.Label(), len(applied), len(ignored), len(portal.Settings))
		}
	}
	off := portal.DefaultSet()
	if a, i := off.For(portal.Guest{OS: portal.OSWindows}); a != nil || i != nil {
		t.Fatalf("a set that is off applied %v / ignored %v", a, i)
	}
	for in, want := range map[string]string{"macOS 15.2": portal.OSMacOS, "Windows 11 Pro": portal.OSWindows, "Ubuntu 24.04": portal.OSLinux,
		"": portal.OSOther, "FreeBSD": portal.OSOther, "Mac OS X 10.15": portal.OSMacOS} {
		if got := portal.NormalizeOS(in); got != want {
			t.Errorf("NormalizeOS(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestEffectivePrecedence: on Enterprise the policy's image and controls
// win; the profile still adds a second image and its updates payload,
// except where the policy forbids major upgrades; on Business only the
// profile counts.
func TestEffectivePrecedence(t *testing.T) {
	img := &portal.Image{ID: "img1", Name: "Windows 11 corp", AppleSilicon: portal.Arch{Enabled: true, URL: "https://f/gi-arm", SHA256: sha('a')},
		Intel: portal.Arch{Enabled: false, URL: "https://f/gi-intel", SHA256: sha('b')}}
	gi := portal.DefaultSet()
	gi.On = true
	gi.Values["clipboard"] = "disconnect"
	other := portal.DefaultSet()
	other.On = true
	other.Values["no_usb"] = "true"
	pol := &portal.Policy{ID: "pol1", Name: "Engineering", ImageID: "img1", Controls: portal.Controls{NoMajorUpgrade: true, ProvisionedOnly: true},
		GoldenImage: gi, Other: other}
	prof := &portal.Profile{ID: "prof1", Name: "Lab", UpdatesEnabled: true, UpdatesAllowMajor: true,
		AppleSilicon: portal.Payload{Enabled: true, Name: "Lab Linux", URL: "https://f/lab-arm", SHA256: sha('c')},
		Intel:        portal.Payload{Enabled: true, Name: "Lab Intel", URL: "https://f/lab-intel", SHA256: sha('d')}}
	vms := []portal.VMFacts{{ID: "vm-gi", OS: portal.OSMacOS, SourceID: "img1"}, {ID: "vm-win", OS: portal.OSWindows}, {ID: "vm-old", OS: portal.OSLinux, SourceID: "img-old"}}

	e := portal.Effective(portal.EffectiveInput{Enterprise: true, KeyID: "k", CPU: portal.CPUAppleSilicon, Policy: pol, Image: img, Profile: prof, VMs: vms})
	if len(e.Images) != 2 || e.Images[0].Source != "policy" || e.Images[0].URL != "https://f/gi-arm" || e.Images[1].Source != "profile" || e.Images[1].URL != "https://f/lab-arm" {
		t.Fatalf("Apple silicon images: %+v; want the golden image first, then the profile's", e.Images)
	}
	if e.Updates == nil || !e.Updates.Managed || e.Updates.AllowMajor {
		t.Fatalf("updates %+v: the policy forbids major upgrades, the profile's allow must not win", e.Updates)
	}
	if !e.Controls.ProvisionedOnly || e.PolicyName != "Engineering" || e.ProfileName != "Lab" {
		t.Fatalf("controls/policy/profile: %+v", e)
	}
	byID := map[string]portal.VMEffective{}
	for _, v := range e.VMs {
		byID[v.VMID] = v
	}
	if v := byID["vm-gi"]; v.Set != portal.SetGoldenImage || v.Applied["clipboard"] != "" || !contains(v.Ignored, "clipboard") {
		t.Fatalf("macOS golden-image VM on Apple silicon: %+v (clipboard does not apply)", v)
	}
	if v := byID["vm-win"]; v.Set != portal.SetOther || v.Applied["no_usb"] != "true" || len(v.Ignored) != 0 {
		t.Fatalf("Windows VM from elsewhere: %+v", v)
	}
	if v := byID["vm-old"]; v.Set != portal.SetOther {
		t.Fatalf("a VM from another (older) golden image counts as another source: %+v", v)
	}

	// Intel: the golden image has Intel off, so the profile's Intel image
	// is what is offered.
	e = portal.Effective(portal.EffectiveInput{Enterprise: true, KeyID: "k", CPU: portal.CPUIntel, Policy: pol, Image: img, Profile: prof})
	if len(e.Images) != 1 || e.Images[0].Source != "profile" || e.Images[0].URL != "https://f/lab-intel" {
		t.Fatalf("Intel images: %+v", e.Images)
	}
	// Business: policies do not exist there.
	e = portal.Effective(portal.EffectiveInput{Enterprise: false, KeyID: "k", CPU: portal.CPUAppleSilicon, Policy: pol, Image: img, Profile: prof, VMs: vms})
	if e.PolicyID != "" || e.Controls.ProvisionedOnly || len(e.Images) != 1 || e.Images[0].Source != "profile" || !e.Updates.AllowMajor {
		t.Fatalf("Business: %+v", e)
	}
	for _, v := range e.VMs {
		if v.Set != "" || v.Applied != nil {
			t.Fatalf("Business VM got policy settings: %+v", v)
		}
	}
	// The same image in policy and profile is offered once.
	prof2 := *prof
	prof2.AppleSilicon.SHA256 = sha('a')
	e = portal.Effective(portal.EffectiveInput{Enterprise: true, CPU: portal.CPUAppleSilicon, Policy: pol, Image: img, Profile: &prof2})
	if len(e.Images) != 1 {
		t.Fatalf("same file twice: %+v", e.Images)
	}
	// Nothing at all: Default profile, no images, nothing managed.
	e = portal.Effective(portal.EffectiveInput{Enterprise: true, CPU: portal.CPUIntel})
	if e.ProfileName != portal.DefaultProfileName || len(e.Images) != 0 || e.Updates != nil {
		t.Fatalf("defaults: %+v", e)
	}
}

// TestEffectiveHash: the hash moves exactly when something delivered
// changes.
func TestEffectiveHash(t *testing.T) {
	gi := portal.DefaultSet()
	gi.On = true
	pol := &portal.Policy{ID: "p", Name: "P", ImageID: "i", GoldenImage: gi}
	img := &portal.Image{ID: "i", Name: "I", Intel: portal.Arch{Enabled: true, URL: "https://f/x", SHA256: sha('a')}}
	in := portal.EffectiveInput{Enterprise: true, KeyID: "k", CPU: portal.CPUIntel, Policy: pol, Image: img,
		VMs: []portal.VMFacts{{ID: "b", OS: portal.OSWindows, SourceID: "i"}, {ID: "a", OS: portal.OSLinux}}}
	h := portal.Effective(in).Hash()
	// Unrelated: timestamps, the VM order, the Apple silicon side of the
	// image for an Intel Mac.
	same := in
	p2, i2 := *pol, *img
	p2.UpdatedAt.Time = p2.UpdatedAt.Add(3600e9)
	i2.AppleSilicon = portal.Arch{Enabled: true, URL: "https://f/arm", SHA256: sha('c')}
	same.Policy, same.Image = &p2, &i2
	same.VMs = []portal.VMFacts{in.VMs[1], in.VMs[0]}
	if got := portal.Effective(same).Hash(); got != h {
		t.Fatalf("hash changed for an irrelevant change")
	}
	// Relevant: a setting's value, the image URL, a control.
	changed := in
	p3 := *pol
	p3.GoldenImage = portal.DefaultSet()
	p3.GoldenImage.On = true
	p3.GoldenImage.Values["network"] = "bridged"
	changed.Policy = &p3
	if portal.Effective(changed).Hash() == h {
		t.Fatal("hash did not change with a VM setting")
	}
	i3 := *img
	i3.Intel.URL = "https://f/y"
	changed = in
	changed.Image = &i3
	if portal.Effective(changed).Hash() == h {
		t.Fatal("hash did not change with the image URL")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
