package portal

import (
	"fmt"
	"sort"
	"strings"
)

// Guest operating systems a VM reports, and host CPUs.
const (
	OSMacOS   = "macos"
	OSWindows = "windows"
	OSLinux   = "linux"
	OSOther   = "other"

	CPUAppleSilicon = "apple_silicon"
	CPUIntel        = "intel"
)

// Guest is what applicability depends on: the VM's guest OS and the CPU of
// the Mac it runs on.
type Guest struct {
	OS  string
	CPU string
}

// Label names a guest for people ("macOS VMs on Apple silicon").
func (g Guest) Label() string {
	os := map[string]string{OSMacOS: "macOS", OSWindows: "Windows", OSLinux: "Linux"}[g.OS]
	if os == "" {
		os = "other"
	}
	cpu := map[string]string{CPUAppleSilicon: "Apple silicon", CPUIntel: "Intel"}[g.CPU]
	if cpu == "" {
		return os + " VMs"
	}
	return os + " VMs on " + cpu
}

// NormalizeOS maps what a client reports ("macOS 15.1", "Windows 11",
// "Ubuntu") to a guest OS family.
func NormalizeOS(reported string) string {
	s := strings.ToLower(strings.TrimSpace(reported))
	switch {
	case strings.HasPrefix(s, "mac"), strings.HasPrefix(s, "os x"), strings.HasPrefix(s, "osx"):
		return OSMacOS
	case strings.HasPrefix(s, "win"):
		return OSWindows
	case s == "":
		return OSOther
	case strings.Contains(s, "linux"), strings.Contains(s, "ubuntu"), strings.Contains(s, "debian"), strings.Contains(s, "fedora"),
		strings.Contains(s, "centos"), strings.Contains(s, "red hat"), strings.Contains(s, "rhel"), strings.Contains(s, "suse"),
		strings.Contains(s, "kali"), strings.Contains(s, "mint"):
		return OSLinux
	}
	return OSOther
}

// Applicability says which guests a setting does not apply to (spec 05's
// "not for" column); the client ignores inapplicable settings, and the
// effect preview counts them.
type Applicability int

const (
	AllGuests Applicability = iota
	WindowsOnly
	NotMacOSOnAppleSilicon
	NotMacOS
)

// Applies reports whether a setting with this applicability applies to g.
func (a Applicability) Applies(g Guest) bool {
	switch a {
	case WindowsOnly:
		return g.OS == OSWindows
	case NotMacOSOnAppleSilicon:
		return !(g.OS == OSMacOS && g.CPU == CPUAppleSilicon)
	case NotMacOS:
		return g.OS != OSMacOS
	}
	return true
}

// NotFor describes the guests a setting does not apply to.
func (a Applicability) NotFor() string {
	switch a {
	case WindowsOnly:
		return "non-Windows guests"
	case NotMacOSOnAppleSilicon:
		return "macOS guests on Apple silicon"
	case NotMacOS:
		return "macOS guests"
	}
	return ""
}

// Choice is one value of a multiple-choice setting.
type Choice struct{ Value, Label string }

// SettingDef describes one VM setting. Bool settings take "true"/"false".
type SettingDef struct {
	Key     string
	Label   string
	Short   string // a word or two for preview lines ("clipboard setting")
	Choices []Choice
	Default string
	Applies Applicability
}

// Bool reports whether the setting is a switch.
func (d SettingDef) Bool() bool { return len(d.Choices) == 0 }

// Valid reports whether v is one of the setting's values.
func (d SettingDef) Valid(v string) bool {
	if d.Bool() {
		return v == "true" || v == "false"
	}
	for _, c := range d.Choices {
		if c.Value == v {
			return true
		}
	}
	return false
}

// ValueLabel names a value for people.
func (d SettingDef) ValueLabel(v string) string {
	if d.Bool() {
		if v == "true" {
			return "Yes"
		}
		return "No"
	}
	for _, c := range d.Choices {
		if c.Value == v {
			return c.Label
		}
	}
	return v
}

// Settings is spec 05's table, in its order.
var Settings = []SettingDef{
	{Key: "startup", Label: "VM startup and shutdown", Short: "startup setting", Default: "manual",
		Choices: []Choice{{"manual", "Manual"}, {"background", "Ready in background"}}},
	{Key: "network", Label: "Network source", Short: "network setting", Default: "shared",
		Choices: []Choice{{"disconnect", "Disconnect"}, {"shared", "Shared network (NAT)"}, {"host_only", "Host-only"}, {"bridged", "Bridged (default adapter)"}}},
	{Key: "no_mac_folders", Label: "Disable sharing Mac folders with the VM", Short: "Mac folder sharing setting", Default: "false"},
	{Key: "no_vm_folders", Label: "Disable sharing VM folders with the Mac", Short: "VM folder sharing setting", Default: "false", Applies: WindowsOnly},
	{Key: "no_vm_apps", Label: "Disable sharing VM applications with the Mac", Short: "VM app sharing setting", Default: "false", Applies: WindowsOnly},
	{Key: "no_mac_apps", Label: "Disable sharing Mac applications with the VM", Short: "Mac app sharing setting", Default: "false", Applies: WindowsOnly},
	{Key: "clipboard", Label: "Clipboard synchronization", Short: "clipboard setting", Default: "bidirectional", Applies: NotMacOSOnAppleSilicon,
		Choices: []Choice{{"disconnect", "Disconnect"}, {"bidirectional", "Bidirectional"}, {"guest_to_mac", "Guest to Mac only"}, {"mac_to_guest", "Mac to guest only"}}},
	{Key: "no_smart_cards", Label: "Disable sharing smart card readers", Short: "smart card setting", Default: "false", Applies: NotMacOSOnAppleSilicon},
	{Key: "no_usb", Label: "Do not allow external (USB) devices", Short: "USB setting", Default: "false"},
	{Key: "lock_on_suspend", Label: "Always lock the VM on suspend", Short: "lock-on-suspend setting", Default: "false", Applies: NotMacOS},
	{Key: "no_config_changes", Label: "Do not allow changing the VM configuration", Short: "configuration lock", Default: "false", Applies: NotMacOSOnAppleSilicon},
	{Key: "developer_tools", Label: "Show developer tools", Short: "developer tools setting", Default: "false", Applies: NotMacOSOnAppleSilicon},
	{Key: "no_tools_autoupdate", Label: "Disable automatic updates of guest tools", Short: "guest tools update setting", Default: "false"},
}

// SettingByKey finds a setting definition.
func SettingByKey(key string) (SettingDef, bool) {
	for _, d := range Settings {
		if d.Key == key {
			return d, true
		}
	}
	return SettingDef{}, false
}

// SettingSet is one of a policy's two VM-settings sets. Values hold every
// setting even while the set is off, so switching it back on restores what
// was typed.
type SettingSet struct {
	On     bool              `json:"on"`
	Values map[string]string `json:"values"`
}

// DefaultSet is a set that is off with every setting at its default.
func DefaultSet() SettingSet {
	s := SettingSet{Values: map[string]string{}}
	for _, d := range Settings {
		s.Values[d.Key] = d.Default
	}
	return s
}

// Value returns the set's value for key (the default when missing).
func (s SettingSet) Value(key string) string {
	if v, ok := s.Values[key]; ok {
		return v
	}
	d, _ := SettingByKey(key)
	return d.Default
}

// validate checks every value; field names are prefix + key.
func (s SettingSet) validate(prefix string) error {
	for k := range s.Values {
		if _, ok := SettingByKey(k); !ok {
			return fieldErr(prefix+k, "Unknown setting %q.", k)
		}
	}
	for _, d := range Settings {
		v, ok := s.Values[d.Key]
		if !ok {
			continue
		}
		if !d.Valid(v) {
			return fieldErr(prefix+d.Key, "%s: choose one of the offered values.", d.Label)
		}
	}
	return nil
}

// For returns the settings of the set that apply to g, and the keys of
// those that do not (sorted). A set that is off yields nothing.
func (s SettingSet) For(g Guest) (applied map[string]string, ignored []string) {
	if !s.On {
		return nil, nil
	}
	applied = map[string]string{}
	for _, d := range Settings {
		if d.Applies.Applies(g) {
			applied[d.Key] = s.Value(d.Key)
		} else {
			ignored = append(ignored, d.Key)
		}
	}
	sort.Strings(ignored)
	return applied, ignored
}

// Controls are a policy's six security controls.
type Controls struct {
	ProvisionedOnly bool `json:"provisioned_only"` // no new VMs from other sources, no import/clone
	OneVMPerUser    bool `json:"one_vm_per_user"`
	NoRemoveVMs     bool `json:"no_remove_vms"`
	NoMajorUpgrade  bool `json:"no_major_upgrade"`
	NoEditPrefs     bool `json:"no_edit_prefs"`
	LicenseBound    bool `json:"license_bound"` // no running VMs without this company's license
}

// ControlDef names a control for forms.
type ControlDef struct{ Key, Label string }

// ControlDefs lists the controls in spec order.
var ControlDefs = []ControlDef{
	{"provisioned_only", "Limit users to provisioned VMs only (no new VMs from other sources, no import or clone)"},
	{"one_vm_per_user", "Limit the number of provisioned VMs per user to one"},
	{"no_remove_vms", "Do not allow removing provisioned VMs"},
	{"no_major_upgrade", "Do not allow upgrading to the next major Desktop version (minor updates stay allowed)"},
	{"no_edit_prefs", "Do not allow editing Desktop preferences"},
	{"license_bound", "Do not allow running VMs without this company's license (license-bound encryption)"},
}

// Count is how many controls are on.
func (c Controls) Count() int {
	n := 0
	for _, d := range ControlDefs {
		if c.Get(d.Key) {
			n++
		}
	}
	return n
}

// Get returns a control by key.
func (c Controls) Get(key string) bool {
	switch key {
	case "provisioned_only":
		return c.ProvisionedOnly
	case "one_vm_per_user":
		return c.OneVMPerUser
	case "no_remove_vms":
		return c.NoRemoveVMs
	case "no_major_upgrade":
		return c.NoMajorUpgrade
	case "no_edit_prefs":
		return c.NoEditPrefs
	case "license_bound":
		return c.LicenseBound
	}
	panic(fmt.Sprintf("portal: unknown control %q", key))
}

// Set sets a control by key.
func (c *Controls) Set(key string, v bool) {
	switch key {
	case "provisioned_only":
		c.ProvisionedOnly = v
	case "one_vm_per_user":
		c.OneVMPerUser = v
	case "no_remove_vms":
		c.NoRemoveVMs = v
	case "no_major_upgrade":
		c.NoMajorUpgrade = v
	case "no_edit_prefs":
		c.NoEditPrefs = v
	case "license_bound":
		c.LicenseBound = v
	default:
		panic(fmt.Sprintf("portal: unknown control %q", key))
	}
}
