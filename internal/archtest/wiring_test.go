package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
)

// TestWiringIsExplicit: internal/app wires every service in app.wire; a
// feature that registers itself from an init function would hide its
// place in the dependency order again (docs/architecture.md, "Wiring").
func TestWiringIsExplicit(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(root, "internal/app/*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no files in internal/app (%v)", err)
	}
	for _, path := range files {
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "init" {
				t.Errorf("%s: func init() in internal/app; build the feature in app.wire instead", fset.Position(fn.Pos()))
			}
		}
	}
}
