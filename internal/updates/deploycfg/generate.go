package deploycfg

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// VM is one VM line to generate.
type VM struct {
	Source string // download URL or .pvm/.pvmp file of the package
	Dest   string
	Mode   string // copy, skip, replace ("" writes the plain form: replace)
}

// Config is what Generate writes.
type Config struct {
	// Header lines are written as comments at the top (who, for what, when).
	Header []string
	// Values sets variables; every other variable is written commented out
	// with an example. Without license_key the file activates with SSO.
	Values map[string]string
	VMs    []VM
}

// ValueError is a value Generate cannot write.
type ValueError struct {
	Name    string // variable name, or "vm" for a VM line
	Message string
}

func (e *ValueError) Error() string { return e.Name + ": " + e.Message }

// Problems are all the reasons Generate refused its input.
type Problems []*ValueError

func (p Problems) Error() string {
	parts := make([]string, len(p))
	for i, e := range p {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func representable(s string) string {
	switch {
	case strings.ContainsAny(s, "\"\r\n"):
		return "must not contain double quotes or line breaks"
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }):
		return "must not contain control characters"
	}
	return ""
}

// Generate writes a complete deploy.cfg. It refuses (with Problems) any
// value that is not allowed and any combination the linter would report,
// so what it writes always lints clean.
func Generate(cfg Config) ([]byte, error) {
	var probs Problems
	names := make([]string, 0, len(cfg.Values))
	for n := range cfg.Values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v, ok := Lookup(n)
		switch {
		case !ok:
			probs = append(probs, &ValueError{Name: n, Message: "unknown variable"})
		case v.Deprecated != "":
			probs = append(probs, &ValueError{Name: n, Message: "deprecated: " + v.Deprecated})
		default:
			if msg := representable(cfg.Values[n]); msg != "" {
				probs = append(probs, &ValueError{Name: n, Message: "the value " + msg})
			}
		}
	}
	for _, vm := range cfg.VMs {
		if msg := representable(vm.Source + vm.Dest); msg != "" {
			probs = append(probs, &ValueError{Name: "vm", Message: "VM source and destination " + msg})
		}
		switch vm.Mode {
		case "", "copy", "skip", "replace":
		default:
			probs = append(probs, &ValueError{Name: "vm", Message: fmt.Sprintf("%q is not copy, skip or replace", vm.Mode)})
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	var b bytes.Buffer
	for _, h := range cfg.Header {
		for _, l := range strings.Split(h, "\n") {
			b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
		}
	}
	if len(cfg.Header) > 0 {
		b.WriteString("#\n")
	}
	b.WriteString("# Lines are name=\"value\". A line starting with # is a comment: a variable\n")
	b.WriteString("# that stays commented out keeps Desktop's default (or the current setting\n")
	b.WriteString("# when Desktop is updated in place).\n")
	vmLines := map[int]bool{}
	for _, sec := range Sections {
		fmt.Fprintf(&b, "\n# ---- %s ----\n", sec)
		if sec == SecVMs {
			b.WriteString("# Each VM: \"<download URL or .pvm/.pvmp file in the package>\"=\"<destination>\".\n")
			b.WriteString("# Wrap the destination in copy(...) (keep the existing VM, add this one under\n")
			b.WriteString("# a new name), skip(...) (keep the existing VM) or replace(...) (the default:\n")
			b.WriteString("# delete the existing VM). Destinations keep the .pvm/.pvmp extension; with\n")
			b.WriteString("# Shared registration they are relative to /Users/Shared/Parallels.\n")
			if len(cfg.VMs) == 0 {
				b.WriteString("#\"https://files.example.com/Windows 11.pvmp\"=\"~/Parallels/Windows 11.pvmp\"\n")
			}
			for i, vm := range cfg.VMs {
				vmLines[i] = true
				if vm.Mode == "" {
					fmt.Fprintf(&b, "%q=%q\n", vm.Source, vm.Dest)
				} else {
					fmt.Fprintf(&b, "%q=%s(%q)\n", vm.Source, vm.Mode, vm.Dest)
				}
			}
		}
		for _, v := range Variables {
			if v.Section != sec {
				continue
			}
			b.WriteString("\n")
			for _, l := range wrap(v.Help, 76) {
				b.WriteString("# " + l + "\n")
			}
			if a := v.Allowed(); a != "" {
				b.WriteString("# Values: " + a + "\n")
			}
			if val, ok := cfg.Values[v.Name]; ok {
				fmt.Fprintf(&b, "%s=\"%s\"\n", v.Name, val)
			} else {
				fmt.Fprintf(&b, "#%s=\"%s\"\n", v.Name, v.Example)
			}
		}
	}
	out := b.Bytes()
	// What the linter would say is what the form must fix.
	for _, d := range Lint("deploy.cfg", out) {
		name := "vm"
		if line := lineAt(out, d.Line); line != "" && !strings.HasPrefix(line, "\"") {
			name, _, _ = strings.Cut(line, "=")
		}
		msg := d.Message
		if d.Suggestion != "" {
			msg += " (" + d.Suggestion + ")"
		}
		probs = append(probs, &ValueError{Name: name, Message: msg})
	}
	if len(probs) > 0 {
		return nil, probs
	}
	return out, nil
}

func lineAt(b []byte, n int) string {
	lines := strings.Split(string(b), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return lines[n-1]
}

func wrap(s string, width int) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			out = append(out, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}
