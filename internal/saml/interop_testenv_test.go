package saml

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"gatehouse/internal/ids"
	"gatehouse/internal/testenv"
)

// TestInteropTestenvSAMLIdP signs in through testenv.SAMLIdP, the
// interactive samlify server the web and activation tests use, in each of
// its modes, so those tests can rely on this validator accepting it.
func TestInteropTestenvSAMLIdP(t *testing.T) {
	ada := testenv.IdPUser{Email: "ada@example.com", Name: "Ada Lovelace",
		ObjectID: "0b1c2d3e-0000-4000-8000-00000000000a", Groups: []string{"g-1", "g-2"}}
	idpSrv := testenv.SAMLIdP(t, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{ada}})
	idp, err := ParseIdPMetadata(idpSrv.MetadataXML())
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	e := newEnv(t, testenv.SQLite(t))
	e.idp = idp
	idpSrv.SetSP(t, e.sp.EntityID, e.sp.ACSURL)

	for _, c := range []struct {
		name string
		opts testenv.SAMLIdPOptions
		want func(t *testing.T, a *Assertion)
	}{
		{"both signed, plain claims", testenv.SAMLIdPOptions{}, func(t *testing.T, a *Assertion) {
			if a.NameID != ada.Email || a.Name != ada.Email || len(a.Groups) != 2 || a.GroupsOverage {
				t.Errorf("%+v", a)
			}
		}},
		{"assertion signed only", testenv.SAMLIdPOptions{SignAssertion: true}, nil},
		{"response signed only", testenv.SAMLIdPOptions{SignResponse: true}, nil},
		{"Entra claims, persistent NameID", testenv.SAMLIdPOptions{EntraClaims: true, NameIDFormat: NameIDFormatPersistent}, func(t *testing.T, a *Assertion) {
			if a.NameID != ada.ObjectID || a.NameIDFormat != NameIDFormatPersistent || a.Name != ada.Email || len(a.Groups) != 2 {
				t.Errorf("%+v", a)
			}
		}},
		{"Entra group overage", testenv.SAMLIdPOptions{EntraClaims: true, GroupsOverage: true}, func(t *testing.T, a *Assertion) {
			if !a.GroupsOverage || len(a.Groups) != 0 {
				t.Errorf("overage %v groups %q", a.GroupsOverage, a.Groups)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := c.opts
			opts.Users = []testenv.IdPUser{ada}
			idpSrv.SetOptions(t, opts)
			binding := ids.Secret(16)
			redirect, reqID, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, PurposePortal, "attempt-1", binding)
			if err != nil {
				t.Fatal(err)
			}
			jar, _ := cookiejar.New(nil)
			acs, form := idpSrv.SignIn(t, &http.Client{Jar: jar}, redirect, ada.Email, "pw")
			if acs != e.sp.ACSURL {
				t.Fatalf("posted to %q", acs)
			}
			a, err := e.svc.ConsumeResponse(context.Background(), e.account, e.sp, e.idp, form.Get("SAMLResponse"), binding)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if a.RequestID != reqID || a.ObjectID != ada.ObjectID || a.DisplayName != ada.Name {
				t.Errorf("%+v", a)
			}
			if c.want != nil {
				c.want(t, a)
			}
		})
	}

	t.Run("unsigned refused", func(t *testing.T) {
		idpSrv.SetOptions(t, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{ada}, Unsigned: true})
		binding := ids.Secret(16)
		redirect, _, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, PurposePortal, "", binding)
		if err != nil {
			t.Fatal(err)
		}
		jar, _ := cookiejar.New(nil)
		_, form := idpSrv.SignIn(t, &http.Client{Jar: jar}, redirect, ada.Email, "pw")
		_, err = e.svc.ConsumeResponse(context.Background(), e.account, e.sp, e.idp, form.Get("SAMLResponse"), binding)
		if refusalCode(err) != CodeSignatureMissing {
			t.Fatalf("got %v", err)
		}
	})
}
