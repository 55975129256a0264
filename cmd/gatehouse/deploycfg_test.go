package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDeployCfgCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	out := filepath.Join(dir, "deploy.cfg")
	var so, se bytes.Buffer
	code := run(ctx, []string{"deploycfg", "gen", "--license-key", "1pixbw 31q14l q3p808 27b2bf czmwgx", "--set", "vm_register_mode=Shared",
		"--vm", "https://files.example.com/Win 11.zip=Corp/Win 11.zip:skip", "--vm", "Dev.pvm=./Dev.pvm", "-o", out}, &so, &se)
	if code != 0 {
		t.Fatalf("gen: exit %d: %s", code, se.String())
	}
	b, _ := os.ReadFile(out)
	for _, want := range []string{`license_key="1PIXBW-31Q14L-Q3P808-27B2BF-CZMWGX"`, `"https://files.example.com/Win 11.zip"=skip("Corp/Win 11.zip")`, `"Dev.pvm"="./Dev.pvm"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("generated file lacks %s:\n%s", want, b)
		}
	}
	so.Reset()
	if code := run(ctx, []string{"deploycfg", "lint", "--format", "json", out}, &so, &se); code != 0 {
		t.Fatalf("generated file: lint exit %d\n%s", code, so.String())
	}
	var rep struct {
		Errors, Warnings int
	}
	if err := json.Unmarshal(so.Bytes(), &rep); err != nil || rep.Errors != 0 || rep.Warnings != 0 {
		t.Fatalf("lint of generated file: %v %s", err, so.String())
	}
	// A broken file: exit 1, file:line:column in the text output.
	bad := filepath.Join(dir, "bad.cfg")
	_ = os.WriteFile(bad, []byte("vm_register_mode=\"Shared\"\nvm_destination_folder=\"/abs\"\nlicence_key=\"x\"\n"), 0o600)
	so.Reset()
	if code := run(ctx, []string{"deploycfg", "lint", bad}, &so, &se); code != 1 {
		t.Fatalf("broken file: exit %d", code)
	}
	for _, want := range []string{bad + ":2:24: error:", bad + ":3:1: error: unknown variable \"licence_key\"", "did you mean \"license_key\"?", "2 errors, 0 warnings"} {
		if !strings.Contains(so.String(), want) {
			t.Errorf("lint output lacks %q:\n%s", want, so.String())
		}
	}
	// A warning alone exits 0; a bad command line exits 2.
	warn := filepath.Join(dir, "warn.cfg")
	_ = os.WriteFile(warn, []byte("unknown_vms_policy=\"remove\"\n"), 0o600)
	if code := run(ctx, []string{"deploycfg", "lint", warn}, &so, &se); code != 0 {
		t.Fatalf("warnings only: exit %d", code)
	}
	if code := run(ctx, []string{"deploycfg", "lint", "--format", "xml", warn}, &so, &se); code != 2 {
		t.Fatalf("bad format: exit %d", code)
	}
	if code := run(ctx, []string{"deploycfg", "gen", "--set", "vm_register_mode=shared"}, &so, &se); code != 2 {
		t.Fatalf("gen with a bad value: exit %d", code)
	}
}
