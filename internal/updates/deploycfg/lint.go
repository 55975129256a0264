package deploycfg

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Lint parses data and checks it: every malformed line, unknown variable,
// bad value, duplicate and conflicting pair. Diagnostics are sorted by
// line and column.
func Lint(name string, data []byte) []Diagnostic {
	f, diags := Parse(name, data)
	l := &linter{parser: parser{file: f, diags: diags}, set: map[string]Assignment{}}
	l.assignments()
	l.vms()
	l.conflicts()
	sort.SliceStable(l.diags, func(i, j int) bool {
		a, b := l.diags[i], l.diags[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return l.diags
}

// Errors counts the errors among diags.
func Errors(diags []Diagnostic) int {
	n := 0
	for _, d := range diags {
		if d.Severity == Error {
			n++
		}
	}
	return n
}

type linter struct {
	parser
	set map[string]Assignment // first valid assignment of each known variable
}

func knownNames() []string {
	out := make([]string, 0, len(Variables))
	for _, v := range Variables {
		out = append(out, v.Name)
	}
	return out
}

// unknown reports a name that is not a variable; false when it is one.
func (l *linter) unknown(a Assignment) bool {
	if _, ok := Lookup(a.Name); ok {
		return false
	}
	lower := strings.ToLower(a.Name)
	if lv, ok := Lookup(lower); ok {
		l.add(a.Line, a.Column, Error, "unknown-variable", fmt.Sprintf("unknown variable %q (names are lower case)", a.Name), fmt.Sprintf("did you mean %q?", lv.Name))
		return true
	}
	sugg := ""
	if best, ok := closest(lower, knownNames(), max(2, len(lower)/4)); ok {
		sugg = fmt.Sprintf("did you mean %q?", best)
	}
	l.add(a.Line, a.Column, Error, "unknown-variable", fmt.Sprintf("unknown variable %q", a.Name), sugg)
	return true
}

func (l *linter) assignments() {
	for _, a := range l.file.Broken {
		l.unknown(a)
	}
	for _, a := range l.file.Assignments {
		if l.unknown(a) {
			continue
		}
		v, _ := Lookup(a.Name)
		if prev, dup := l.set[a.Name]; dup {
			if prev.Value == a.Value {
				l.add(a.Line, a.Column, Warning, "duplicate-variable", fmt.Sprintf("%s is set again with the same value (first on line %d)", a.Name, prev.Line), "remove one of the lines")
			} else {
				l.add(a.Line, a.Column, Error, "duplicate-variable", fmt.Sprintf("%s is set twice with different values (first on line %d to %q)", a.Name, prev.Line, prev.Value), "keep one of the lines")
			}
			continue
		}
		if v.Deprecated != "" {
			l.add(a.Line, a.Column, Warning, "deprecated-variable", fmt.Sprintf("%s is deprecated: %s", a.Name, v.Deprecated), "remove the line")
		}
		if v.Name == "enable_single_application_mode" && a.Value == "no" {
			l.add(a.Line, a.ValueColumn, Warning, "no-effect", `enable_single_application_mode="no" has no effect: Single Application Mode cannot be turned off by redeploying`,
				"comment the line out (and remove Desktop from the Macs to leave the mode)")
			l.set[a.Name] = a
			continue
		}
		if msg, sugg := v.checkValue(a.Value); msg != "" {
			l.add(a.Line, a.ValueColumn, Error, "bad-value", msg, sugg)
			continue
		}
		l.set[a.Name] = a
	}
}

var (
	archiveRe = regexp.MustCompile(`(?i)\.(pvm|pvmp|zip|tar\.gz|tgz)$`)
	vmExtRe   = regexp.MustCompile(`(?i)\.(pvm|pvmp)$`)
)

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func ext(s string) string {
	m := vmExtRe.FindString(s)
	return strings.ToLower(m)
}

func (l *linter) vms() {
	sources, dests := map[string]int{}, map[string]int{}
	for _, vm := range l.file.VMs {
		switch {
		case strings.TrimSpace(vm.Source) == "":
			l.add(vm.Line, vm.Column, Error, "vm-source", "the VM source is empty", "name a .pvm/.pvmp file of the package or a download URL")
			continue
		case strings.TrimSpace(vm.Dest) == "":
			l.add(vm.Line, vm.DestColumn, Error, "vm-destination", "the VM destination is empty", "")
			continue
		}
		if first, dup := sources[vm.Source]; dup {
			l.add(vm.Line, vm.Column, Error, "duplicate-vm", fmt.Sprintf("%q is deployed twice (first on line %d)", vm.Source, first), "keep one of the lines")
			continue
		}
		sources[vm.Source] = vm.Line
		if first, dup := dests[vm.Dest]; dup {
			l.add(vm.Line, vm.DestColumn, Error, "duplicate-vm-destination", fmt.Sprintf("two VMs go to %q (the other on line %d)", vm.Dest, first), "")
		}
		dests[vm.Dest] = vm.Line
		if isURL(vm.Source) {
			if !archiveRe.MatchString(vm.Dest) {
				l.add(vm.Line, vm.DestColumn, Warning, "vm-destination-extension",
					fmt.Sprintf("the destination %q does not end in .pvm, .pvmp, .zip or .tar.gz; Desktop recognises a downloaded VM by its extension", vm.Dest), "")
			}
			continue
		}
		se := ext(vm.Source)
		if se == "" {
			l.add(vm.Line, vm.Column, Error, "vm-source", fmt.Sprintf("%q is neither a download URL nor a .pvm/.pvmp file of the package", vm.Source), "")
			continue
		}
		if de := ext(vm.Dest); de != se {
			fixed := strings.TrimSuffix(vm.Dest, "/")
			if de != "" {
				fixed = fixed[:len(fixed)-len(de)]
			}
			l.add(vm.Line, vm.DestColumn, Error, "vm-destination-extension",
				fmt.Sprintf("the destination must keep the source's %s extension", se), fmt.Sprintf("write %q", fixed+vmExtRe.FindString(vm.Source)))
		}
	}
}

func absolute(p string) bool { return strings.HasPrefix(p, "/") || strings.HasPrefix(p, "~") }

// nonWindows finds words that mark a VM as not Windows.
var nonWindows = regexp.MustCompile(`(?i)\b(mac ?os|osx|os x|sonoma|sequoia|ventura|monterey|linux|ubuntu|debian|fedora|centos|rhel|red ?hat|kali|mint|opensuse|suse|arch|android|chrome ?os|freebsd)\b`)

func (l *linter) conflicts() {
	get := func(n string) (Assignment, bool) { a, ok := l.set[n]; return a, ok }
	if mode, ok := get("vm_register_mode"); ok && mode.Value == "Shared" {
		if f, ok := get("vm_destination_folder"); ok && absolute(f.Value) {
			rel := strings.TrimPrefix(strings.TrimPrefix(f.Value, "/Users/Shared/Parallels"), "/")
			sugg := "make it relative to /Users/Shared/Parallels"
			if rel != "" && !absolute(rel) {
				sugg = fmt.Sprintf("write vm_destination_folder=%q", rel)
			}
			l.add(f.Line, f.ValueColumn, Error, "shared-absolute-folder",
				fmt.Sprintf("vm_register_mode is Shared (line %d), so vm_destination_folder must be relative to /Users/Shared/Parallels, not %q", mode.Line, f.Value), sugg)
		}
		for _, vm := range l.file.VMs {
			if absolute(vm.Dest) {
				l.add(vm.Line, vm.DestColumn, Error, "shared-absolute-destination",
					fmt.Sprintf("vm_register_mode is Shared (line %d), so the destination must be relative to /Users/Shared/Parallels, not %q", mode.Line, vm.Dest),
					fmt.Sprintf("write %q", sharedRelative(vm.Dest)))
			}
		}
	}
	if sam, ok := get("enable_single_application_mode"); ok && sam.Value == "yes" {
		for _, vm := range l.file.VMs {
			if m := nonWindows.FindString(vm.Source + " " + vm.Dest); m != "" {
				l.add(vm.Line, vm.Column, Error, "single-app-non-windows",
					fmt.Sprintf("Single Application Mode (line %d) works with Windows VMs only, and this VM looks like %s", sam.Line, m), "")
			}
		}
	}
	_, hasURL := get("control_center_banner_url")
	if u, ok := get("control_center_banner_url"); ok && u.Value == "" {
		hasURL = false
	}
	for _, n := range []string{"control_center_banner_height", "control_center_banner_min_width"} {
		if a, ok := get(n); ok && !hasURL {
			l.add(a.Line, a.Column, Warning, "banner-size-without-url", n+" has no effect without control_center_banner_url", "")
		}
	}
	if key, ok := get("license_key"); ok {
		for _, n := range []string{"sso_login_dialog_header", "sso_login_dialog_description"} {
			if a, ok := get(n); ok && a.Value != "" {
				l.add(a.Line, a.Column, Warning, "sso-text-with-key", fmt.Sprintf("%s only shows with SSO activation, but license_key is set (line %d)", n, key.Line), "")
			}
		}
	}
	if src, ok := get("update_source"); ok {
		switch src.Value {
		case "none":
			for _, n := range []string{"update_channel", "update_check_frequency", "update_download_automatically"} {
				if a, ok := get(n); ok {
					l.add(a.Line, a.Column, Warning, "update-setting-no-effect", fmt.Sprintf("%s has no effect: update_source is none (line %d)", n, src.Line), "")
				}
			}
		case "vendor":
		default:
			if a, ok := get("update_channel"); ok {
				l.add(a.Line, a.Column, Warning, "update-setting-no-effect", fmt.Sprintf("update_channel only applies to the vendor source; update_source is a local server (line %d)", src.Line), "")
			}
			if a, ok := get("update_download_automatically"); ok && a.Value == "no" {
				l.add(a.Line, a.ValueColumn, Warning, "local-server-manual-download", "with a local update server the user cannot download updates by hand", `write update_download_automatically="yes"`)
			}
		}
	}
	if f, ok := get("update_check_frequency"); ok && f.Value == "never" {
		if a, ok := get("update_download_automatically"); ok && a.Value == "yes" {
			l.add(a.Line, a.Column, Warning, "update-setting-no-effect", fmt.Sprintf("update_download_automatically has no effect: update_check_frequency is never (line %d)", f.Line), "")
		}
	}
	if p, ok := get("unknown_vms_policy"); ok && p.Value == "remove" && len(l.file.VMs) == 0 {
		l.add(p.Line, p.ValueColumn, Warning, "remove-without-vms",
			`unknown_vms_policy="remove" deletes every VM on the Mac that is not deployed, and this file lists no VM (VMs in the package's folder still count)`, "")
	}
	if d, ok := get("vm_deploy_mode"); ok && d.Value == "Move" && len(l.file.VMs) > 0 {
		all := true
		for _, vm := range l.file.VMs {
			all = all && isURL(vm.Source)
		}
		if all {
			l.add(d.Line, d.ValueColumn, Warning, "move-downloaded-vms", `vm_deploy_mode="Move" only applies to VMs inside the package; every VM here is downloaded`, "")
		}
	}
}

// sharedRelative suggests a relative destination for an absolute one: the
// part under /Users/Shared/Parallels, or just the file name.
func sharedRelative(dest string) string {
	if rest, ok := strings.CutPrefix(dest, "/Users/Shared/Parallels/"); ok && rest != "" {
		return "./" + rest
	}
	return "./" + path.Base(dest)
}
