package saml

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"gatehouse/internal/ids"
	"gatehouse/internal/testenv"
)

// nodePeers returns testdata/node when its npm packages are installed
// (scripts/install-deps runs npm ci there), else skips or fails.
func nodePeers(t testing.TB) string {
	t.Helper()
	return testenv.NodeDir(t, "testdata/node")
}

func runNode(t testing.TB, dir, script string, input any) string {
	t.Helper()
	in, _ := json.Marshal(input)
	// --no-validate-asm: samlify's schema validator is libxml2 compiled to
	// asm.js, which V8 would otherwise validate (seconds) on every start.
	cmd := exec.Command("node", "--no-validate-asm", script)
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(string(in))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.String())
	}
	return string(out)
}

// TestInteropSamlify has samlify 2.13.1 (xml-crypto signatures) act as the
// IdP: it reads our SP metadata, parses our AuthnRequest from the redirect
// URL and answers it.
func TestInteropSamlify(t *testing.T) {
	dir := nodePeers(t)
	k := testKey(t, "idp")
	e := newEnv(t, testenv.SQLite(t))
	for _, c := range []struct {
		name               string
		signResp, signAsrt bool
	}{{"assertion signed", false, true}, {"response signed", true, false}, {"both signed", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			binding := ids.Secret(16)
			redirect, reqID, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, PurposePortal, "attempt-js", binding)
			if err != nil {
				t.Fatal(err)
			}
			out := runNode(t, dir, "idp.js", map[string]any{
				"entityID": testIdPEntity, "ssoURL": e.idp.SSOURL,
				"keyPEM": k.keyPEM, "certPEM": k.certPEM,
				"spMetadata":  string(SPMetadata(e.sp)),
				"redirectURL": redirect,
				"nameID":      "ada@example.com",
				"attributes": map[string][]string{
					"objectidentifier": {"0b1c2d3e-0000-4000-8000-00000000000a"},
					"name":             {"ada@example.com"},
					"displayName":      {"Ada Lovelace"},
					"groups":           {"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"},
				},
				"signResponse": c.signResp, "signAssertion": c.signAsrt,
			})
			a, err := e.svc.ConsumeResponse(context.Background(), e.account, e.sp, e.idp, out, binding)
			if err != nil {
				xml, _ := base64.StdEncoding.DecodeString(out)
				t.Fatalf("refused: %v\n%s", err, xml)
			}
			if a.RequestID != reqID || a.AttemptRef != "attempt-js" || a.NameID != "ada@example.com" ||
				a.ObjectID != "0b1c2d3e-0000-4000-8000-00000000000a" || a.Name != "ada@example.com" ||
				a.DisplayName != "Ada Lovelace" || len(a.Groups) != 2 {
				t.Errorf("assertion %+v", a)
			}
		})
	}
}
