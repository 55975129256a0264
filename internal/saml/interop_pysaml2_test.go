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

// TestInteropPysaml2 has pysaml2 (Debian's python3-pysaml2, which signs
// through xmlsec1) act as the IdP: it reads our SP metadata, parses our
// AuthnRequest from the redirect URL and answers it.
func TestInteropPysaml2(t *testing.T) {
	testenv.Command(t, "xmlsec1")
	if err := exec.Command("/usr/bin/python3", "-c", "import saml2").Run(); err != nil {
		if testenv.RequirePeers() {
			t.Fatalf("required test peer missing: pysaml2 (/usr/bin/python3 -c 'import saml2': %v)", err)
		}
		t.Skipf("test peer missing: pysaml2 (Debian python3-pysaml2): %v", err)
	}
	k := testKey(t, "idp")
	e := newEnv(t, testenv.SQLite(t))
	for _, c := range []struct {
		name               string
		signResp, signAsrt bool
	}{{"assertion signed", false, true}, {"response signed", true, false}, {"both signed", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			binding := ids.Secret(16)
			redirect, reqID, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, PurposeDesktop, "attempt-py", binding)
			if err != nil {
				t.Fatal(err)
			}
			samlRequest, _ := requestFromRedirect(t, redirect)
			in, _ := json.Marshal(map[string]any{
				"entity_id": testIdPEntity, "sso_url": e.idp.SSOURL,
				"key_file": k.keyFile, "cert_file": k.certFile,
				"sp_metadata":  string(SPMetadata(e.sp)),
				"saml_request": samlRequest,
				"name_id":      "ada@example.com",
				"attributes": map[string][]string{
					"objectidentifier": {"0b1c2d3e-0000-4000-8000-00000000000a"},
					"name":             {"ada@example.com"},
					"displayname":      {"Ada Lovelace"},
					"groups":           {"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"},
				},
				"sign_response": c.signResp, "sign_assertion": c.signAsrt,
			})
			cmd := exec.Command("/usr/bin/python3", "testdata/pysaml2/idp.py")
			cmd.Stdin = strings.NewReader(string(in))
			out, err := cmd.Output()
			if err != nil {
				var stderr string
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = string(ee.Stderr)
				}
				t.Fatalf("pysaml2: %v\n%s", err, stderr)
			}
			a, err := e.svc.ConsumeResponse(context.Background(), e.account, e.sp, e.idp, string(out), binding)
			if err != nil {
				xml, _ := base64.StdEncoding.DecodeString(string(out))
				t.Fatalf("refused: %v\n%s", err, xml)
			}
			if a.RequestID != reqID || a.Purpose != PurposeDesktop || a.AttemptRef != "attempt-py" {
				t.Errorf("request %q %q %q", a.RequestID, a.Purpose, a.AttemptRef)
			}
			if a.NameID != "ada@example.com" || a.ObjectID != "0b1c2d3e-0000-4000-8000-00000000000a" ||
				a.Name != "ada@example.com" || a.DisplayName != "Ada Lovelace" || len(a.Groups) != 2 {
				t.Errorf("assertion %+v", a)
			}
		})
	}
}
