package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

// portalEnv is an account with an Enterprise subscription and a sublicense.
type portalEnv struct {
	node             *apptest.Node
	admin            *apptest.Client
	acct, base       string
	sub, primary, k1 string
}

func newPortalEnv(t *testing.T, node *apptest.Node, email, name string) *portalEnv {
	t.Helper()
	e := &portalEnv{node: node, admin: apptest.NewClient(t, node.URL)}
	e.admin.SignUp(email, pw, "Admin")
	e.acct = e.admin.CreateAccount(name)
	e.base = "/accounts/" + e.acct
	e.sub = registerKey(t, e.admin, e.acct, issue(t, node, license.EditionEnterprise, license.ModelMixed, 20, false), name+" Enterprise")
	subPath := e.base + "/licenses/" + e.sub
	e.admin.Post(subPath+"/keys", url.Values{"key_name": {"Design team"}, "kind": {"reserved"}, "seats": {"5"}}).Expect(t, http.StatusSeeOther)
	page := e.admin.Get(subPath)
	e.k1 = keyID(page, "Design team")
	e.primary = strings.TrimPrefix(page.Doc.Find("table.keys tbody tr:has(.kind-primary)").First().AttrOr("id", ""), "key-")
	if e.k1 == "" || e.primary == "" {
		t.Fatalf("portal fixture keys: %q %q", e.k1, e.primary)
	}
	return e
}

var (
	shaA = strings.Repeat("a1", 32)
	shaB = strings.Repeat("b2", 32)
)

// createImage creates a golden image through the form and returns its id.
func (e *portalEnv) createImage(t *testing.T, name string) string {
	t.Helper()
	e.admin.Post(e.base+"/golden-images", url.Values{"name": {name}, "description": {"Managed " + name},
		"arm_enabled": {"1"}, "arm_url": {"https://images.example.com/" + url.PathEscape(name) + "-arm.pvmp"}, "arm_sha256": {shaA},
		"intel_enabled": {"1"}, "intel_url": {"https://images.example.com/" + url.PathEscape(name) + "-intel.pvmp"}, "intel_sha256": {shaB}}).Expect(t, http.StatusSeeOther)
	page := e.admin.Get(e.base+"/golden-images").Expect(t, http.StatusOK)
	id := ""
	page.Doc.Find(".image-card").Each(func(_ int, s *goquerySelection) {
		if strings.TrimSpace(s.Find("h3").Text()) == name {
			id = strings.TrimPrefix(s.AttrOr("id", ""), "image-")
		}
	})
	if id == "" {
		t.Fatalf("no card for image %q", name)
	}
	return id
}

// step posts the policy form as it is on the page plus changes, pressing
// the button go; it returns the next page.
func (e *portalEnv) step(t *testing.T, page *apptest.Response, changes url.Values, goTo string) *apptest.Response {
	t.Helper()
	form := url.Values{}
	page.Doc.Find("#policy-form input, #policy-form select, #policy-form textarea").Each(func(_ int, s *goquerySelection) {
		name, ok := s.Attr("name")
		if !ok || name == "csrf_token" || name == "go" {
			return
		}
		typ := s.AttrOr("type", "")
		if (typ == "checkbox" || typ == "radio") && !s.Is("[checked]") {
			return
		}
		if s.Is("select") {
			form.Add(name, s.Find("option[selected]").AttrOr("value", s.Find("option").First().AttrOr("value", "")))
			return
		}
		if s.Is("textarea") {
			form.Add(name, s.Text())
			return
		}
		form.Add(name, s.AttrOr("value", ""))
	})
	for k, v := range changes {
		form[k] = v
	}
	form.Set("go", goTo)
	return e.admin.Post(e.base+"/policies/form", form)
}

func (e *portalEnv) savePolicy(t *testing.T, name, image string, groups ...string) string {
	t.Helper()
	page := e.admin.Get(e.base+"/policies/new").Expect(t, http.StatusOK)
	page = e.step(t, page, url.Values{"name": {name}, "group": groups}, "next").Expect(t, http.StatusOK)
	page = e.step(t, page, url.Values{"image": {image}}, "save")
	if page.Status != http.StatusSeeOther {
		t.Fatalf("save policy %s: %d %s", name, page.Status, page.Text(".error-text"))
	}
	list := e.admin.Get(e.base + "/policies")
	id := ""
	list.Doc.Find("#policies tbody tr").Each(func(_ int, s *goquerySelection) {
		if strings.TrimSpace(s.Find("td a").First().Text()) == name {
			id = strings.TrimPrefix(s.AttrOr("id", ""), "policy-")
		}
	})
	if id == "" {
		t.Fatalf("policy %s not listed", name)
	}
	return id
}

// TestPortalPages walks the portal pages over HTTP on both engines.
func TestPortalPages(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)

		// Without Enterprise the sections explain themselves.
		biz := apptest.NewClient(t, node.URL)
		biz.SignUp("owner@biz.example", pw, "Owner")
		bizAcct := biz.CreateAccount("Biz Only")
		registerKey(t, biz, bizAcct, issue(t, node, license.EditionBusiness, license.ModelPerDevice, 5, false), "Business")
		apptest.MustContain(t, biz.Get("/accounts/"+bizAcct+"/policies").Expect(t, http.StatusOK).Text("#enterprise-needed"), "Enterprise Edition")

		e := newPortalEnv(t, node, "admin@portal.example", "Portal Corp")
		// Golden images: validation, then a card.
		r := e.admin.Post(e.base+"/golden-images", url.Values{"name": {"Win"}, "arm_enabled": {"1"}, "arm_url": {"https://x.example/w.pvmp"}, "arm_sha256": {"abc"}})
		r.Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-arm_sha256"), "64 hexadecimal characters")
		if r.Doc.Find("#f-arm_url").AttrOr("value", "") != "https://x.example/w.pvmp" {
			t.Fatal("the refused form lost the typed URL")
		}
		r = e.admin.Post(e.base+"/golden-images", url.Values{"name": {"Win"}})
		r.Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-arch"), "at least one architecture")
		img := e.createImage(t, "Windows 11 Engineering")

		// Verify link through the app: a loopback file server is refused
		// without a connection; nothing is saved.
		hits := 0
		local := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
		defer local.Close()
		r = e.admin.Post(e.base+"/golden-images/verify", url.Values{"name": {"Probe"}, "arm_enabled": {"1"}, "arm_url": {local.URL + "/x.pvmp"}, "arm_sha256": {shaA}})
		r.Expect(t, http.StatusOK)
		apptest.MustContain(t, r.Text("#check-arm"), "loopback address")
		if hits != 0 {
			t.Fatalf("the verify link reached a loopback server %d times", hits)
		}
		if n := e.admin.Get(e.base + "/golden-images").Doc.Find(".image-card").Length(); n != 1 {
			t.Fatalf("verify saved something: %d cards", n)
		}

		// The policy form keeps what was typed across steps.
		page := e.admin.Get(e.base+"/policies/new").Expect(t, http.StatusOK)
		page = e.step(t, page, url.Values{"name": {"Design lockdown"}, "description": {"For designers"}, "group": {e.k1}}, "next").Expect(t, http.StatusOK)
		if page.Doc.Find("#policy-form").AttrOr("data-step", "") != "image" {
			t.Fatalf("Next from General went to %q", page.Doc.Find("#policy-form").AttrOr("data-step", ""))
		}
		page = e.step(t, page, url.Values{"image": {img}}, "next").Expect(t, http.StatusOK)
		page = e.step(t, page, url.Values{"control_license_bound": {"1"}, "control_no_major_upgrade": {"1"}}, "next").Expect(t, http.StatusOK)
		page = e.step(t, page, url.Values{"gi_on": {"1"}, "gi_clipboard": {"disconnect"}, "gi_no_usb": {"true"}}, "prev").Expect(t, http.StatusOK)
		if !page.Has(`input[name="control_license_bound"][checked]`) || page.Has(`input[name="control_no_remove_vms"][checked]`) {
			t.Fatal("Previous lost the security controls")
		}
		page = e.step(t, page, nil, "step:general").Expect(t, http.StatusOK)
		if page.Doc.Find("#f-name").AttrOr("value", "") != "Design lockdown" || !page.Has(`input[name="group"][value="`+e.k1+`"][checked]`) {
			t.Fatal("going back to General lost the name or the group")
		}
		if page.Doc.Find(`input[type=hidden][name="gi_clipboard"]`).AttrOr("value", "") != "disconnect" {
			t.Fatal("the VM settings are not carried through the General step")
		}
		r = e.step(t, page, nil, "save")
		if r.Status != http.StatusSeeOther {
			t.Fatalf("save: %d %s", r.Status, r.Text(".error-text"))
		}
		list := e.admin.Get(e.base+"/policies").Expect(t, http.StatusOK)
		apptest.MustContain(t, list.Text("#policies"), "Design lockdown")
		apptest.MustContain(t, list.Text("#policies .policy-groups"), "Design team")
		pol := strings.TrimPrefix(list.Doc.Find("#policies tbody tr").First().AttrOr("id", ""), "policy-")
		edit := e.admin.Get(e.base+"/policies/"+pol).Expect(t, http.StatusOK)
		if edit.Doc.Find(`input[type=hidden][name="gi_no_usb"]`).AttrOr("value", "") != "true" || edit.Doc.Find(`input[type=hidden][name="image"]`).AttrOr("value", "") != img {
			t.Fatal("the saved policy did not keep its settings or image")
		}

		// One policy per group: a second policy for the same key is a form error on General.
		page = e.admin.Get(e.base + "/policies/new")
		if !page.Has(`input[name="group"][value="` + e.k1 + `"][disabled]`) {
			t.Fatal("a group that has a policy is not disabled in the form")
		}
		r = e.step(t, page, url.Values{"name": {"Second"}, "group": {e.k1}}, "save")
		r.Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-groups"), `already has the policy "Design lockdown"`)
		// A policy without groups is "not applied".
		e.savePolicy(t, "Spare", "")
		apptest.MustContain(t, e.admin.Get(e.base+"/policies").Text("#policies"), "not applied")

		// User Groups shows the policy and image with links.
		groups := e.admin.Get(e.base+"/user-groups").Expect(t, http.StatusOK)
		row := groups.Doc.Find("#group-" + e.k1)
		if !strings.Contains(row.Text(), "Design lockdown") || !strings.Contains(row.Text(), "Windows 11 Engineering") || row.Find(`a[href$="/policies/`+pol+`"]`).Length() != 1 {
			t.Fatalf("user groups row: %q", row.Text())
		}
		// The image card lists its policy; delete asks first.
		apptest.MustContain(t, e.admin.Get(e.base+"/golden-images").Text("#image-"+img+" .image-policies"), "Design lockdown")
		apptest.MustContain(t, e.admin.Get(e.base+"/policies/"+pol+"/delete").Expect(t, http.StatusOK).Text(".danger-zone"), "unlocked")

		// Profiles: admins only; applying to the primary key sets the sublicense.
		e.admin.Post(e.base+"/profiles", url.Values{"name": {"Lab"}, "updates_enabled": {"1"}}).Expect(t, http.StatusSeeOther)
		profs := e.admin.Get(e.base+"/profiles").Expect(t, http.StatusOK)
		prof := strings.TrimPrefix(profs.Doc.Find(`#profiles tr[id^="profile-"]:not(#profile-default)`).First().AttrOr("id", ""), "profile-")
		e.admin.Post(e.base+"/profiles/apply", url.Values{"key": {e.primary}, "profile": {prof}}).Expect(t, http.StatusSeeOther)
		profs = e.admin.Get(e.base + "/profiles")
		apptest.MustContain(t, profs.Text(".flash"), "1 sublicense")
		if profs.Doc.Find("#key-profile-"+e.k1+" option[selected]").AttrOr("value", "") != prof {
			t.Fatal("the sublicense did not get the primary key's profile")
		}
		la, _ := addMember(t, node, e.admin, e.acct, "la@portal.example", "license_admin")
		la.Get(e.base+"/profiles").Expect(t, http.StatusForbidden)
		// The license admin manages no key: sees no policy.
		if n := la.Get(e.base+"/policies").Expect(t, http.StatusOK).Doc.Find("#policies tbody tr").Length(); n != 0 {
			t.Fatalf("license admin without keys sees %d policies", n)
		}

		e.admin.Post(e.base+"/policies/"+pol+"/delete", nil).Expect(t, http.StatusSeeOther)
		actions := auditActions(t, node, e.acct)
		for _, a := range []string{"portal.image_created", "portal.policy_created", "portal.profile_created", "portal.profile_applied", "portal.policy_deleted"} {
			if !contains(actions, a) {
				t.Errorf("audit log lacks %s", a)
			}
		}
	})
}

// portalIsolationFixture gives account A of the isolation walk a golden
// image, a policy and a profile named after its secret.
func portalIsolationFixture(t *testing.T, node *apptest.Node, alice *apptest.Client, acct, secret string) map[string]string {
	t.Helper()
	e := &portalEnv{node: node, admin: alice, acct: acct, base: "/accounts/" + acct}
	registerKey(t, alice, acct, issue(t, node, license.EditionEnterprise, license.ModelMixed, 5, false), secret+" Enterprise")
	img := e.createImage(t, secret+" image")
	pol := e.savePolicy(t, secret+" policy", img)
	alice.Post(e.base+"/profiles", url.Values{"name": {secret + " profile"}}).Expect(t, http.StatusSeeOther)
	prof := strings.TrimPrefix(alice.Get(e.base+"/profiles").Doc.Find(`#profiles tr[id^="profile-"]:not(#profile-default)`).First().AttrOr("id", ""), "profile-")
	if prof == "" {
		t.Fatal("portal isolation fixture: no profile")
	}
	return map[string]string{"image": img, "policy": pol, "profile": prof}
}

func init() { layoutFixtures = append(layoutFixtures, layoutPortalFixture) }

// layoutPortalFixture: the layout walk's Enterprise account gets golden
// images, policies (one applied, one not) and a profile on its keys.
func layoutPortalFixture(t *testing.T, e *layoutEnv) {
	p := &portalEnv{node: e.node, admin: e.admin, acct: e.acct, base: "/accounts/" + e.acct}
	img := p.createImage(t, "Windows 11 Enterprise — design workstation build (ARM64 and x64)")
	p.createImage(t, "Ubuntu 24.04 LTS developer image")
	groups := e.admin.Get(p.base + "/policies/new").Doc.Find(`input[name="group"]`)
	var keys []string
	groups.Each(func(_ int, s *goquerySelection) { keys = append(keys, s.AttrOr("value", "")) })
	e.params["policy"] = p.savePolicy(t, "Design and product engineering lockdown", img, keys...)
	p.savePolicy(t, "Contractors (not yet assigned)", "")
	e.params["image"] = img
	e.admin.Post(p.base+"/profiles", url.Values{"name": {"Legacy lab images"}, "intel_enabled": {"1"}, "intel_name": {"Lab Intel VM"},
		"intel_url": {"https://images.example.com/lab-intel.pvmp"}, "intel_sha256": {shaB}, "updates_enabled": {"1"}}).Expect(t, http.StatusSeeOther)
	prof := strings.TrimPrefix(e.admin.Get(p.base+"/profiles").Doc.Find(`#profiles tr[id^="profile-"]:not(#profile-default)`).First().AttrOr("id", ""), "profile-")
	e.params["profile"] = prof
	if len(keys) > 0 {
		e.admin.Post(p.base+"/profiles/apply", url.Values{"key": {keys[0]}, "profile": {prof}}).Expect(t, http.StatusSeeOther)
	}
}
