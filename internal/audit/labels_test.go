package audit_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gatehouse/internal/audit"
)

// notActions are code-shaped literals in files that record audit entries
// that are no actions (field names of validation messages, settings keys).
var notActions = map[string]bool{
	"device.app_version": true, "device.computer_name": true, "device.macos_user": true, "device.serial": true,
	"license.operator_token_hash": true,
}

// actionCode is what an audited event code looks like: "area.verb_phrase".
var actionCode = regexp.MustCompile(`^([a-z]+)\.[a-z]+(_[a-z]+)*$`)

// TestEveryAuditedActionHasALabel reads the code base (not the tests) for
// the actions it records and checks each has a label for the audit log.
// Actions written as literals in audit.Entry{Action: "…"} are found
// directly; actions chosen at run time (a variable, a map) are literals of
// the same areas in the same files, so every code-shaped literal of an area
// that is audited at all, in a file that records audit entries, counts.
func TestEveryAuditedActionHasALabel(t *testing.T) {
	root := filepath.Join("..", "..")
	direct := map[string]bool{}
	candidates := map[string][]string{} // code → files
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "test-artifacts" || name == "data") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		records := false
		var literals []string
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if sel, ok := n.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Entry" || isLocalEntry(n.Type) {
					for _, el := range n.Elts {
						kv, ok := el.(*ast.KeyValueExpr)
						if !ok {
							continue
						}
						if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Action" {
							records = true
							if lit, ok := kv.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
								if s, err := strconv.Unquote(lit.Value); err == nil {
									direct[s] = true
								}
							}
						}
					}
				}
			case *ast.BasicLit:
				if n.Kind == token.STRING {
					if s, err := strconv.Unquote(n.Value); err == nil && actionCode.MatchString(s) {
						literals = append(literals, s)
					}
				}
			}
			return true
		})
		if records {
			for _, s := range literals {
				candidates[s] = append(candidates[s], path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(direct) < 30 {
		t.Fatalf("found only %d audited actions; the scan lost its way", len(direct))
	}
	areas := map[string]bool{}
	for code := range direct {
		areas[actionCode.FindStringSubmatch(code)[1]] = true
	}
	var missing []string
	for code, files := range candidates {
		if notActions[code] || !areas[actionCode.FindStringSubmatch(code)[1]] || audit.HasLabel(code) {
			continue
		}
		missing = append(missing, code+" ("+files[0]+")")
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("audited actions without a label in internal/audit/labels.go:\n  %s", strings.Join(missing, "\n  "))
	}
	// And no label is left for an action nothing records any more.
	for _, code := range audit.LabelledActions() {
		if _, ok := candidates[code]; !ok {
			t.Errorf("label for %q, which no code records", code)
		}
	}
}

func isLocalEntry(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "Entry"
}

func TestLabelFallsBackToTheCode(t *testing.T) {
	if got := audit.Label("license.computers_deactivated"); got != "Computers deactivated" {
		t.Errorf("label %q", got)
	}
	if got := audit.Label("future.thing_done"); got != "future.thing_done" {
		t.Errorf("unknown action: %q", got)
	}
}
