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
	// Output of packages that never reported an end (go test killed).
	for k, lines := range r.buf {
		if len(lines) > 0 && k.test == "" {
			fmt.Fprintf(r.out, "=== unfinished output of %s\n%s", k.pkg, strings.Join(lines, ""))
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
			delete(r.buf, k)
		} else {
			delete(r.buf, k)
		}
	case "skip":
		if ev.Test != "" {
			r.skipped++
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
		for tk, lines := range r.buf {
			if tk.pkg == pkg && tk.test != "" && len(lines) > 0 {
				fmt.Fprintf(r.out, "=== output of %s (unfinished)\n%s", tk.test, strings.Join(lines, ""))
				delete(r.buf, tk)
			}
		}
		if lines := r.buf[k]; len(lines) > 0 {
			fmt.Fprint(r.out, strings.Join(lines, ""))
		}
		delete(r.buf, k)
	}
}

// output buffers a line of test output, printing result lines and, for
// failed and skipped tests, what the test printed.
func (r *report) output(k key, s string) {
	trimmed := strings.TrimLeft(s, " ")
	switch {
	case strings.HasPrefix(trimmed, "--- PASS:"):
		fmt.Fprint(r.out, s)
		delete(r.buf, k)
		return
	case strings.HasPrefix(trimmed, "--- FAIL:"), strings.HasPrefix(trimmed, "--- SKIP:"):
		fmt.Fprint(r.out, strings.Join(r.buf[k], ""))
		fmt.Fprint(r.out, s)
		delete(r.buf, k)
		r.finished[k] = true
		return
	case k.test == "" && (strings.HasPrefix(s, "ok  \t") || strings.HasPrefix(s, "FAIL\t")):
		fmt.Fprint(r.out, s)
		return
	case k.test == "" && (s == "PASS\n" || s == "FAIL\n" || strings.HasPrefix(s, "?   \t") || strings.HasPrefix(s, "testing: warning: no tests to run")):
		return
	case strings.HasPrefix(trimmed, "=== RUN") || strings.HasPrefix(trimmed, "=== PAUSE") ||
		strings.HasPrefix(trimmed, "=== CONT") || strings.HasPrefix(trimmed, "=== NAME"):
		return
	}
	if r.finished[k] {
		// Output after the result line (e.g. a cleanup's log): show it.
		fmt.Fprint(r.out, s)
		return
	}
	r.buf[k] = append(r.buf[k], s)
}
