// Command testreport reads `go test -json` on stdin and prints a short log:
// every `--- PASS/FAIL/SKIP` line, each package's ok/FAIL line, the full
// output of every failed test (and the reason of every skipped one), and
// the full output of a package that failed outside a test (build error,
// panic, timeout). It writes the complete plain `go test -v` text to the
// file named by -raw, and ends with the line "N passed, N failed, N skipped".
// It exits 1 when anything failed (scripts/test also checks go test's own
// exit code).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

type event struct {
	Action     string
	Package    string
	ImportPath string // build-output / build-fail events
	Test       string
	Output     string
}

type key struct{ pkg, test string }

type report struct {
	out io.Writer
	raw io.Writer

	buf      map[key][]string // output of tests (and of packages: test "") not printed yet
	finished map[key]bool     // test reported failed: later output is printed at once
	pkgFail  map[string]bool  // a test of the package failed
	pkgOut   map[string]*strings.Builder
	passed   int
	failed   int
	skipped  int
}

func main() {
	rawPath := flag.String("raw", "", "write the plain go test -v output here")
	extraFailed := flag.Int("failed", 0, "failures found before the tests (lint), added to the count")
	started := flag.Int64("started", 0, "unix time the run started, to print how long it took")
	flag.Parse()

	r := &report{
		out:      os.Stdout,
		raw:      io.Discard,
		buf:      map[key][]string{},
		finished: map[key]bool{},
		pkgFail:  map[string]bool{},
		pkgOut:   map[string]*strings.Builder{},
		failed:   *extraFailed,
	}
	if *rawPath != "" {
		f, err := os.Create(*rawPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testreport:", err)
			os.Exit(2)
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		defer bw.Flush()
		r.raw = bw
	}

	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			// Not a test event (e.g. a "go: downloading" message): show it.
			fmt.Fprintln(r.out, string(line))
			fmt.Fprintln(r.raw, string(line))
			continue
		}
		r.handle(ev)
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(r.out, "testreport: reading go test output:", err)
		r.failed++
	}
	// Packages that never reported an end (go test killed).
	for pkg, b := range r.pkgOut {
		fmt.Fprint(r.out, b.String())
		if lines := r.buf[key{pkg, ""}]; len(lines) > 0 {
			fmt.Fprintf(r.out, "=== unfinished output of %s\n%s", pkg, strings.Join(lines, ""))
		}
	}
	if *started > 0 {
		fmt.Fprintf(r.out, "(took %s", time.Since(time.Unix(*started, 0)).Round(time.Second))
		if *rawPath != "" {
			fmt.Fprintf(r.out, "; full output in %s", *rawPath)
		}
		fmt.Fprintln(r.out, ")")
	}
	fmt.Fprintf(r.out, "%d passed, %d failed, %d skipped\n", r.passed, r.failed, r.skipped)
	if r.failed > 0 {
		if bw, ok := r.raw.(*bufio.Writer); ok {
			bw.Flush()
		}
		os.Exit(1)
	}
}

// print adds s to the package's block of the log; blocks are written whole
// when the package ends, so that packages tested in parallel do not mix.
func (r *report) print(pkg, s string) {
	b := r.pkgOut[pkg]
	if b == nil {
		b = &strings.Builder{}
		r.pkgOut[pkg] = b
	}
	b.WriteString(s)
}

func (r *report) endPackage(pkg string) {
	if b := r.pkgOut[pkg]; b != nil {
		fmt.Fprint(r.out, b.String())
		delete(r.pkgOut, pkg)
	}
}

func (r *report) handle(ev event) {
	pkg := ev.Package
	if pkg == "" {
		pkg = ev.ImportPath
	}
	k := key{pkg, ev.Test}
	switch ev.Action {
	case "build-output":
		fmt.Fprint(r.raw, ev.Output)
		fmt.Fprint(r.out, ev.Output)
	case "output":
		fmt.Fprint(r.raw, ev.Output)
		r.output(k, ev.Output)
	case "pass":
		if ev.Test != "" {
			r.passed++
		} else {
			r.endPackage(pkg)
		}
		delete(r.buf, k)
	case "skip":
		if ev.Test != "" {
			r.skipped++
		} else {
			r.endPackage(pkg)
		}
		delete(r.buf, k)
	case "fail":
		if ev.Test != "" {
			r.failed++
			r.pkgFail[pkg] = true
			return
		}
		// The package failed: show what was not shown yet (build errors,
		// panics, a timeout, TestMain failing), and the output of tests
		// that never finished.
		if !r.pkgFail[pkg] {
			r.failed++ // failed outside any test: count the package once
		}
		r.printUnfinished(pkg)
		r.endPackage(pkg)
	}
}

// printUnfinished adds to the package's block the output of its tests that
// never reported a result (a panic, a timeout) and its own output (build
// errors, TestMain).
func (r *report) printUnfinished(pkg string) {
	for tk, lines := range r.buf {
		if tk.pkg == pkg && tk.test != "" && len(lines) > 0 {
			r.print(pkg, fmt.Sprintf("=== output of %s (unfinished)\n%s", tk.test, strings.Join(lines, "")))
			delete(r.buf, tk)
		}
	}
	k := key{pkg, ""}
	if lines := r.buf[k]; len(lines) > 0 {
		r.print(pkg, strings.Join(lines, ""))
	}
	delete(r.buf, k)
}

// output buffers a line of test output, printing result lines and, for
// failed and skipped tests, what the test printed.
func (r *report) output(k key, s string) {
	trimmed := strings.TrimLeft(s, " ")
	switch {
	case strings.HasPrefix(trimmed, "--- PASS:"):
		r.print(k.pkg, s)
		delete(r.buf, k)
		return
	case strings.HasPrefix(trimmed, "--- FAIL:"), strings.HasPrefix(trimmed, "--- SKIP:"):
		r.print(k.pkg, strings.Join(r.buf[k], ""))
		r.print(k.pkg, s)
		delete(r.buf, k)
		r.finished[k] = true
		return
	case k.test == "" && strings.HasPrefix(s, "ok  \t"):
		r.print(k.pkg, s)
		return
	case k.test == "" && strings.HasPrefix(s, "FAIL\t"):
		r.printUnfinished(k.pkg)
		r.print(k.pkg, s)
		return
	case k.test == "" && (s == "PASS\n" || s == "FAIL\n" || strings.HasPrefix(s, "?   \t") || strings.HasPrefix(s, "testing: warning: no tests to run")):
		return
	case strings.HasPrefix(trimmed, "=== RUN") || strings.HasPrefix(trimmed, "=== PAUSE") ||
		strings.HasPrefix(trimmed, "=== CONT") || strings.HasPrefix(trimmed, "=== NAME"):
		return
	}
	if r.finished[k] {
		// Output after the result line (e.g. a cleanup's log): show it.
		r.print(k.pkg, s)
		return
	}
	r.buf[k] = append(r.buf[k], s)
}
