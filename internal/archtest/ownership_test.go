package archtest

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The repository root, from this package's directory.
const root = "../.."

var (
	writeRE  = regexp.MustCompile(`\b(INSERT INTO|UPDATE|DELETE FROM)\s+([a-z_][a-z0-9_]*)\b`)
	readRE   = regexp.MustCompile(`\b(FROM|JOIN)\s+([a-z_][a-z0-9_]*)\b`)
	createRE = regexp.MustCompile(`(?i)\bCREATE TABLE\s+(?:IF NOT EXISTS\s+)?([a-z_][a-z0-9_]*)`)
	// A row of the ownership table: | `table` | `owner` | `reader`, … |
	rowRE = regexp.MustCompile("^\\|\\s*`([a-z_0-9]+)`\\s*\\|\\s*`([a-z_0-9/]+)`\\s*\\|(.*)\\|\\s*$")
)

// sqlUse is what one package does with the tables, from the SQL in its
// string literals.
type sqlUse struct {
	writes map[string][]string // table → "file:line" of each write
	reads  map[string]bool
}

// scanPackages reads the SQL of every non-test Go file under internal/ and
// cmd/, by package directory (relative to internal/, or cmd/…). Test
// support packages (testenv, *test) are left out: they build fixtures, they
// are not features.
func scanPackages(t *testing.T, dirs ...string) map[string]*sqlUse {
	t.Helper()
	out := map[string]*sqlUse{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" || d.Name() == "testenv" || strings.HasSuffix(d.Name(), "test") && d.Name() != "archtest" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			pkg := strings.TrimPrefix(filepath.ToSlash(rel), "internal/")
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			use := out[pkg]
			if use == nil {
				use = &sqlUse{writes: map[string][]string{}, reads: map[string]bool{}}
				out[pkg] = use
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					return true
				}
				pos := fset.Position(lit.Pos())
				at := fmt.Sprintf("%s:%d", strings.TrimPrefix(filepath.ToSlash(pos.Filename), root+"/"), pos.Line)
				for _, m := range writeRE.FindAllStringSubmatch(s, -1) {
					if m[2] != "set" { // ON CONFLICT … DO UPDATE SET
						use.writes[m[2]] = append(use.writes[m[2]], at)
					}
				}
				for _, m := range readRE.FindAllStringSubmatchIndex(s, -1) {
					if !strings.HasSuffix(s[:m[0]], "DELETE ") {
						use.reads[s[m[4]:m[5]]] = true
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// schemaTables lists the tables the migrations create.
func schemaTables(t *testing.T) map[string]bool {
	t.Helper()
	tables := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(root, "internal/store/migrations"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".sql") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range createRE.FindAllStringSubmatch(string(data), -1) {
			// SQLite table rebuilds create a scratch copy under another name.
			if !strings.HasSuffix(m[1], "_new") && !strings.HasSuffix(m[1], "_old") {
				tables[m[1]] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

// ownership is a row of the list in docs/architecture.md.
type ownership struct {
	owner   string
	readers []string
}

func readOwnership(t *testing.T, path string) map[string]ownership {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]ownership{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := rowRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		var readers []string
		for _, r := range strings.Split(m[3], ",") {
			if r = strings.Trim(strings.TrimSpace(r), "`"); r != "" && r != "—" {
				readers = append(readers, r)
			}
		}
		if _, dup := out[m[1]]; dup {
			t.Errorf("%s lists table %s twice", path, m[1])
		}
		out[m[1]] = ownership{owner: m[2], readers: readers}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ownershipProblems compares what the packages do with the list.
func ownershipProblems(uses map[string]*sqlUse, owners map[string]ownership, schema map[string]bool) []string {
	var problems []string
	var pkgs []string
	for p := range uses {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		use := uses[pkg]
		var tables []string
		for tb := range use.writes {
			tables = append(tables, tb)
		}
		sort.Strings(tables)
		for _, tb := range tables {
			if !schema[tb] {
				continue // not a table (a word in a message), or a scratch table
			}
			o, listed := owners[tb]
			switch {
			case !listed:
				problems = append(problems, fmt.Sprintf("table %s is written by %s but has no owner in docs/architecture.md", tb, pkg))
			case o.owner != pkg:
				problems = append(problems, fmt.Sprintf("package %s writes table %s, owned by %s (%s): call the owner's method instead",
					pkg, tb, o.owner, strings.Join(use.writes[tb], ", ")))
			}
		}
		for tb := range use.reads {
			if o, listed := owners[tb]; listed && schema[tb] && o.owner != pkg && !slices.Contains(o.readers, pkg) {
				problems = append(problems, fmt.Sprintf("package %s reads table %s: add it to the table's readers in docs/architecture.md", pkg, tb))
			}
		}
	}
	for tb := range schema {
		if _, listed := owners[tb]; !listed {
			problems = append(problems, fmt.Sprintf("table %s (in the migrations) is missing from the ownership list in docs/architecture.md", tb))
		}
	}
	for tb, o := range owners {
		if !schema[tb] {
			problems = append(problems, fmt.Sprintf("docs/architecture.md lists table %s, which no migration creates", tb))
		}
		for _, r := range o.readers {
			if u := uses[r]; u == nil || !u.reads[tb] {
				problems = append(problems, fmt.Sprintf("docs/architecture.md lists %s as a reader of %s, but it does not read it", r, tb))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// TestTableOwnership: each table is written (INSERT, UPDATE, DELETE) only
// by its owning package, and the list in docs/architecture.md names the
// owner and every package that reads it.
func TestTableOwnership(t *testing.T) {
	uses := scanPackages(t, "internal", "cmd")
	owners := readOwnership(t, filepath.Join(root, "docs/architecture.md"))
	schema := schemaTables(t)
	if len(owners) < 10 || len(schema) < 10 {
		t.Errorf("read %d owned tables and %d schema tables; the list or the migrations were not found", len(owners), len(schema))
	} else {
		for _, p := range ownershipProblems(uses, owners, schema) {
			t.Error(p)
		}
	}
	if t.Failed() || testing.Verbose() {
		t.Log("ownership as the code has it (table | writers | readers):")
		for _, line := range observed(uses, schema) {
			t.Log(line)
		}
	}

	// The check itself catches a package writing another's table.
	uses["web"] = &sqlUse{writes: map[string][]string{"sessions": {"internal/web/x.go:1"}}, reads: map[string]bool{}}
	found := false
	for _, p := range ownershipProblems(uses, owners, schema) {
		found = found || strings.HasPrefix(p, "package web writes table sessions, owned by account")
	}
	if !found {
		t.Error("a write of sessions from web was not reported")
	}
}

// observed renders the ownership the code shows, to help fix the list.
func observed(uses map[string]*sqlUse, schema map[string]bool) []string {
	var tables []string
	for tb := range schema {
		tables = append(tables, tb)
	}
	sort.Strings(tables)
	var out []string
	for _, tb := range tables {
		var writers, readers []string
		for pkg, u := range uses {
			if len(u.writes[tb]) > 0 {
				writers = append(writers, pkg)
			} else if u.reads[tb] {
				readers = append(readers, pkg)
			}
		}
		sort.Strings(writers)
		sort.Strings(readers)
		out = append(out, fmt.Sprintf("| `%s` | %s | %s |", tb, strings.Join(writers, ", "), strings.Join(readers, ", ")))
	}
	return out
}
