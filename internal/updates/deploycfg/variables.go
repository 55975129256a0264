// Package deploycfg reads, checks and writes the deploy.cfg file of the
// Desktop autodeploy package (spec 06): name="value" lines grouped under
// comment headings, and VM lines "<source>"="<destination>" optionally
// wrapped in copy(...), skip(...) or replace(...).
//
// Lint reports every malformed line, unknown variable, bad value and
// conflicting pair with file:line:column and, where there is an obvious
// one, a suggestion; Generate writes a complete file (every variable, the
// unset ones commented out with their allowed values) that lints clean.
package deploycfg

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"gatehouse/internal/license"
)

// Section names the comment heading a variable is written under.
type Section string

const (
	SecLicense  Section = "License"
	SecVMs      Section = "Virtual machines"
	SecUX       Section = "User experience"
	SecSupport  Section = "Help and support"
	SecPrivacy  Section = "Privacy"
	SecUpdates  Section = "Software updates"
	SecObsolete Section = "Deprecated"
)

// Sections in file order.
var Sections = []Section{SecLicense, SecVMs, SecUX, SecSupport, SecPrivacy, SecUpdates}

// Variable describes one deploy.cfg variable.
type Variable struct {
	Name    string
	Section Section
	// Values, when set, is the complete list of allowed values (exact case).
	Values []string
	// Help is the comment written above the variable.
	Help string
	// Example is the value shown in a commented-out line.
	Example string
	// Deprecated variables are accepted with a warning.
	Deprecated string
	// check validates a value that is not from Values; it returns a
	// message (and a suggestion) when the value is bad.
	check func(v string) (msg, suggestion string)
}

// Allowed is the human list of allowed values ("yes | no").
func (v *Variable) Allowed() string {
	if len(v.Values) > 0 {
		return strings.Join(v.Values, " | ")
	}
	return ""
}

func checkHTTPURL(empty bool) func(string) (string, string) {
	return func(v string) (string, string) {
		if v == "" {
			if empty {
				return "", ""
			}
			return "the value is empty", ""
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Sprintf("%q is not an http:// or https:// URL", v), ""
		}
		return "", ""
	}
}

func checkInt(min, max int) func(string) (string, string) {
	return func(v string) (string, string) {
		n, err := strconv.Atoi(v)
		if err != nil {
			if f, ferr := strconv.ParseFloat(strings.TrimSuffix(v, "px"), 64); ferr == nil && f >= float64(min) && f <= float64(max) {
				return fmt.Sprintf("%q is not a whole number of pixels", v), strconv.Itoa(int(f))
			}
			return fmt.Sprintf("%q is not a whole number", v), ""
		}
		if n < min || n > max {
			return fmt.Sprintf("%d is outside %d–%d", n, min, max), ""
		}
		return "", ""
	}
}

func checkText(max int) func(string) (string, string) {
	return func(v string) (string, string) {
		if n := len([]rune(v)); n > max {
			return fmt.Sprintf("the text has %d characters; at most %d fit the dialog", n, max), ""
		}
		return "", ""
	}
}

func checkLicenseKey(v string) (string, string) {
	if strings.TrimSpace(v) == "" {
		return "the license key is empty; for SSO activation comment the line out", `#license_key="…"`
	}
	norm, err := license.NormalizeKey(v)
	if err != nil {
		return fmt.Sprintf("%q is not a valid license key (30 characters in 5 groups of 6, with a check that caught a typo or a missing character)", v), ""
	}
	if norm != v {
		return "the license key must be written in groups with dashes, in capitals", norm
	}
	return "", ""
}

func checkFolder(v string) (string, string) {
	if strings.TrimSpace(v) == "" {
		return "the folder is empty; comment the line out to use the default folder", ""
	}
	return "", ""
}

func checkUpdateSource(v string) (string, string) {
	switch v {
	case "vendor", "none":
		return "", ""
	}
	for _, w := range []string{"vendor", "none"} {
		if strings.EqualFold(v, w) {
			return fmt.Sprintf("%q must be written in lower case", v), w
		}
	}
	if strings.EqualFold(v, "parallels") {
		return `use "vendor" for the vendor's update server`, "vendor"
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is neither vendor, none, nor the http(s) URL of a local update server's feed", v), ""
	}
	return "", ""
}

var yesNo = []string{"yes", "no"}

// Variables lists every variable deploy.cfg knows, in file order.
var Variables = []*Variable{
	{Name: "license_key", Section: SecLicense, Example: "XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX", check: checkLicenseKey,
		Help: "The 30-character license key Desktop activates with. Leave it commented out for SSO activation (company sign-in)."},

	{Name: "unknown_vms_policy", Section: SecVMs, Values: []string{"keep", "remove"}, Example: "keep",
		Help: "What happens to VMs already on the Mac that are not in this package: keep them, or remove (delete) them."},
	{Name: "vm_reset_hwid", Section: SecVMs, Values: yesNo, Example: "yes",
		Help: "Give each deployed VM a new hardware (SMBIOS) ID, so management tools count every copy of Windows separately. Recommended: yes."},
	{Name: "vm_register_mode", Section: SecVMs, Values: []string{"Private", "Shared"}, Example: "Private",
		Help: "Private: VMs belong to the signed-in user (~/Parallels). Shared: every user of the Mac sees them (/Users/Shared/Parallels)."},
	{Name: "vm_destination_folder", Section: SecVMs, Example: "Corporate VMs", check: checkFolder,
		Help: "Folder the VMs are placed in instead of the default. With Shared registration it must be relative to /Users/Shared/Parallels."},
	{Name: "vm_deploy_mode", Section: SecVMs, Values: []string{"Copy", "Move"}, Example: "Copy",
		Help: "Copy keeps the package intact (use it from a network share); Move is instant when the package was copied to the Mac first."},
	{Name: "control_center_banner_url", Section: SecVMs, Example: "https://intranet.example.com/desktop-banner.html", check: checkHTTPURL(true),
		Help: "Web page shown as a banner at the top of the Control Center window. Empty: no banner."},
	{Name: "control_center_banner_height", Section: SecVMs, Example: "350", check: checkInt(1, 2000),
		Help: "Height of the banner in pixels (350 recommended)."},
	{Name: "control_center_banner_min_width", Section: SecVMs, Example: "350", check: checkInt(0, 4000),
		Help: "Narrowest the Control Center window may get, in pixels (350 recommended; 0 removes the limit)."},

	{Name: "enable_single_application_mode", Section: SecUX, Values: []string{"yes"}, Example: "yes",
		Help: "Run Desktop in Single Application Mode (Windows VMs only). Redeploying cannot turn it off: Desktop has to be removed first."},
	{Name: "sso_login_dialog_header", Section: SecUX, Example: "Sign in with your Example Corp account", check: checkText(100),
		Help: "Title of the SSO sign-in dialog. Empty: the default title."},
	{Name: "sso_login_dialog_description", Section: SecUX, Example: "Use your work email address (name@example.com).", check: checkText(500),
		Help: "Text of the SSO sign-in dialog. Empty: the default text."},
	{Name: "show_developers_menu", Section: SecUX, Values: yesNo, Example: "no",
		Help: "Show or hide the developer tools of every VM in the package."},

	{Name: "support_url", Section: SecSupport, Example: "https://helpdesk.example.com", check: checkHTTPURL(true),
		Help: "Page Help > Support Center opens. Empty: the default message."},
	{Name: "lic_admin_url", Section: SecSupport, Example: "https://helpdesk.example.com/desktop-license", check: checkHTTPURL(true),
		Help: "Link shown in licensing error dialogs. Empty: \"Contact your system administrator\"."},

	{Name: "report_allow_screenshots", Section: SecPrivacy, Values: yesNo, Example: "no",
		Help: "Whether problem reports may include screenshots of the Mac and VM desktops."},
	{Name: "hide_license_request_params", Section: SecPrivacy, Values: []string{"on", "off"}, Example: "off",
		Help: "on: activation and license checks do not send the Mac's host name."},

	{Name: "update_source", Section: SecUpdates, Example: "vendor", check: checkUpdateSource,
		Help: "Where Desktop gets updates: vendor, none (no updates), or the URL of a local update server's feed. A URL or none locks the user's update controls."},
	{Name: "update_channel", Section: SecUpdates, Values: []string{"business", "early"}, Example: "business",
		Help: "Vendor update channel: business (after extra testing) or early (as soon as published)."},
	{Name: "update_check_frequency", Section: SecUpdates, Values: []string{"never", "daily", "weekly", "monthly"}, Example: "weekly",
		Help: "How often Desktop checks for updates."},
	{Name: "update_download_automatically", Section: SecUpdates, Values: yesNo, Example: "yes",
		Help: "Download updates without asking (recommended with a local update server)."},

	{Name: "vm_set_hv_mode_apple_forcibly_since_macos_11_0", Section: SecObsolete, Values: yesNo, Example: "no",
		Deprecated: "it only applies to Intel Macs and is ignored by current Desktop versions",
		Help:       "Deprecated (Intel Macs only): force Apple's hypervisor."},
}

var byName = func() map[string]*Variable {
	m := map[string]*Variable{}
	for _, v := range Variables {
		m[v.Name] = v
	}
	return m
}()

// Lookup returns the variable called name.
func Lookup(name string) (*Variable, bool) {
	v, ok := byName[name]
	return v, ok
}

// checkValue validates value for v: "" when it is fine.
func (v *Variable) checkValue(value string) (msg, suggestion string) {
	if len(v.Values) > 0 {
		for _, a := range v.Values {
			if a == value {
				return "", ""
			}
		}
		for _, a := range v.Values {
			if strings.EqualFold(a, strings.TrimSpace(value)) {
				return fmt.Sprintf("%q is not allowed for %s (values are case-sensitive)", value, v.Name), fmt.Sprintf("write %s=%q", v.Name, a)
			}
		}
		msg = fmt.Sprintf("%q is not allowed for %s; use %s", value, v.Name, quoteList(v.Values))
		if best, ok := closest(strings.ToLower(value), lowerAll(v.Values), 2); ok {
			for _, a := range v.Values {
				if strings.ToLower(a) == best {
					suggestion = fmt.Sprintf("write %s=%q", v.Name, a)
				}
			}
		}
		return msg, suggestion
	}
	if v.check != nil {
		msg, sugg := v.check(value)
		// A check suggests a value; a suggestion that is already a whole
		// line (a commented-out variable) is kept as it is.
		if sugg != "" && !strings.HasPrefix(sugg, "#") {
			sugg = fmt.Sprintf("write %s=%q", v.Name, sugg)
		}
		return msg, sugg
	}
	return "", ""
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

func lowerAll(vs []string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = strings.ToLower(v)
	}
	return out
}

// closest returns the candidate nearest to s by edit distance (adjacent
// swaps count once) when it is within max edits.
func closest(s string, candidates []string, max int) (string, bool) {
	best, bestD := "", max+1
	for _, c := range candidates {
		if d := distance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD <= max
}

// distance is the optimal string alignment distance.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
