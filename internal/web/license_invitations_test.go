package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
	"gatehouse/internal/mail"
	"gatehouse/internal/testenv"
)

// postMultipart submits a multipart form (with the client's CSRF token and
// one file) the way a browser does.
func postMultipart(t *testing.T, c *apptest.Client, path string, fields url.Values, fileName, file string) *apptest.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf_token", c.CSRF())
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	fw, err := mw.CreateFormFile("file", fileName)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write([]byte(file))
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, c.Base+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = copyLimited(&b, resp)
	doc, _ := goqueryDoc(b.String())
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b.String(), Location: resp.Header.Get("Location"), Doc: doc, URL: req.URL.String()}
}

// hiddenForm collects the hidden inputs of the form matching sel.
func hiddenForm(r *apptest.Response, sel string) (string, url.Values) {
	form := url.Values{}
	f := r.Doc.Find(sel).First()
	f.Find(`input[type=hidden]`).Each(func(_ int, s *goquerySelection) { form.Add(s.AttrOr("name", ""), s.AttrOr("value", "")) })
	return f.AttrOr("action", ""), form
}

func invitationEmails(t *testing.T, node *apptest.Node) map[string]mail.Queued {
	t.Helper()
	msgs, err := mail.List(context.Background(), node.App.DB, 100)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]mail.Queued{}
	for _, m := range msgs {
		if m.Kind == "license_invitation" {
			out[m.To] = m
		}
	}
	return out
}

// TestLicenseInvitationsOverHTTP: Invite Users with typed addresses and a CSV
// upload → a review listing valid addresses and every unusable row with its
// line (nothing sent yet) → Send once, even when sent twice → the list with
// status and delivery, Download Invitations, resend, revoke.
func TestLicenseInvitationsOverHTTP(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		ctx := context.Background()
		admin := apptest.NewClient(t, node.URL)
		admin.SignUp("hr@invite.example", pw, "HR")
		acct := admin.CreateAccount("Invite Corp")
		sub := registerKey(t, admin, acct, issue(t, node, license.EditionBusiness, license.ModelPerDevice, 3, false), "")
		subPath := "/accounts/" + acct + "/licenses/" + sub
		admin.Post(subPath+"/keys", url.Values{"key_name": {"Pilots"}, "kind": {"reserved"}, "seats": {"2"}}).Expect(t, http.StatusSeeOther)
		pilots := keyID(admin.Get(subPath), "Pilots")

		form := admin.Get(subPath+"/invite?key="+pilots).Expect(t, http.StatusOK)
		if form.Doc.Find(`#f-key option[selected]`).AttrOr("value", "") != pilots {
			t.Error("the key chosen on the key page is not preselected")
		}
		if form.Doc.Find(`#f-language option`).Length() < 2 || form.Doc.Find(`#f-expires option`).Length() < 4 {
			t.Error("language or expiry choices missing")
		}

		r := postMultipart(t, admin, subPath+"/invite", url.Values{"language": {"en"}, "expires": {"7"}}, "empty.csv", "").Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-key"), "Choose the license key")
		apptest.MustContain(t, r.Text("#e-emails"), "Add at least one email address")

		typed := "ann@crew.example\nnot-an-address\nAnn@crew.example"
		file := "email\nbob@crew.example\ncarl@crew.example,extra\nann@crew.example\n"
		settings := url.Values{"key": {pilots}, "language": {"de"}, "expires": {"14"}, "emails": {typed}}
		r = postMultipart(t, admin, subPath+"/invite", settings, "crew.csv", file).Expect(t, http.StatusOK)
		apptest.MustContain(t, r.Text("h1"), "Review invitations")
		valid := r.Text("ol.invite-list")
		if !strings.Contains(valid, "ann@crew.example") || !strings.Contains(valid, "bob@crew.example") || r.Doc.Find("ol.invite-list li").Length() != 2 {
			t.Fatalf("valid list: %q", valid)
		}
		bad := r.Text(".bad-rows")
		for _, want := range []string{"Typed list", "not-an-address", "duplicate of line 1", "file crew.csv", "2 values in this row", "already in the typed list"} {
			apptest.MustContain(t, bad, want)
		}
		apptest.MustContain(t, r.Text(".review-message"), "Send 2 invitations for Pilots")
		apptest.MustContain(t, r.Text("dl.facts"), "Deutsch")
		apptest.MustContain(t, r.Text("dl.facts"), "2 weeks")
		if n := len(invitationEmails(t, node)); n != 0 {
			t.Fatalf("%d invitation emails queued before confirming", n)
		}
		// Change the list keeps what was typed and the rows to fix.
		editAction, edit := hiddenForm(r, `form:has(input[name=step][value=edit])`)
		e := admin.Post(editAction, edit).Expect(t, http.StatusOK)
		apptest.MustContain(t, e.Text("#f-emails"), "not-an-address")
		if e.Doc.Find(`#f-language option[selected]`).AttrOr("value", "") != "de" {
			t.Error("Change the list lost the language")
		}

		action, send := hiddenForm(r, `form[action$="/invite/send"]`)
		r = admin.PostRaw(action, send).Expect(t, http.StatusSeeOther)
		list := admin.Get(r.Location).Expect(t, http.StatusOK)
		apptest.MustContain(t, list.Text(".flash.success"), "2 invitations are created and queued for sending")
		if n := list.Doc.Find("table.invitations tbody tr").Length(); n != 2 {
			t.Fatalf("%d invitations listed, want 2", n)
		}
		apptest.MustContain(t, list.Text("tbody"), "Pending")
		apptest.MustContain(t, list.Text("tbody"), "Queued")
		emails := invitationEmails(t, node)
		if len(emails) != 2 {
			t.Fatalf("%d invitation emails queued, want 2", len(emails))
		}
		apptest.MustContain(t, emails["ann@crew.example"].Subject, "Einladung")
		// The form sent twice sends once.
		r = admin.PostRaw(action, withCSRF(admin, send)).Expect(t, http.StatusSeeOther)
		apptest.MustContain(t, admin.Get(r.Location).Text(".flash.info"), "were sent already")
		if n := len(invitationEmails(t, node)); n != 2 {
			t.Fatalf("a repeated submit queued more email: %d", n)
		}

		// Download Invitations.
		r = admin.Get(list.Doc.Find(`a[href*="invitations.csv"]`).AttrOr("href", "")).Expect(t, http.StatusOK)
		rows, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
		if err != nil || len(rows) != 3 || rows[0][0] != "email" {
			t.Fatalf("invitations csv: %v rows, %v: %q", len(rows), err, r.Body)
		}
		codes := map[string]string{}
		for _, row := range rows[1:] {
			codes[row[0]] = row[1]
			if !strings.Contains(row[2], "/download?code=") || row[4] != "pending" {
				t.Errorf("csv row %v", row)
			}
		}
		if codes["ann@crew.example"] == "" || !strings.Contains(emails["ann@crew.example"].Text, codes["ann@crew.example"]) {
			t.Fatal("the email does not carry the invitation's code")
		}

		// Resend, revoke, and the code's fate.
		invID := func(email string) string {
			id := ""
			admin.Get(subPath + "/invitations").Doc.Find("table.invitations tbody tr").Each(func(_ int, s *goquerySelection) {
				if strings.Contains(s.Text(), email) {
					id = strings.TrimPrefix(s.AttrOr("id", ""), "inv-")
				}
			})
			return id
		}
		ann, bob := invID("ann@crew.example"), invID("bob@crew.example")
		r = admin.Post(subPath+"/invitations/"+ann+"/resend", url.Values{"back": {subPath + "/invitations"}}).Expect(t, http.StatusSeeOther)
		apptest.MustContain(t, admin.Get(r.Location).Text(".flash.success"), "sent again with the same code")
		apptest.MustContain(t, admin.Get(subPath+"/invitations?q=ann").Text("tbody"), "sent 2×")
		r = admin.Post(subPath+"/invitations/"+bob+"/revoke", url.Values{"back": {subPath + "/invitations?status=revoked"}}).Expect(t, http.StatusSeeOther)
		revoked := admin.Get(r.Location).Expect(t, http.StatusOK)
		apptest.MustContain(t, revoked.Text(".flash.success"), "1 invitation is revoked")
		apptest.MustContain(t, revoked.Text("tbody"), "bob@crew.example")
		_, err = node.App.License.Activate(ctx, license.ActivateInput{Code: codes["bob@crew.example"], Device: device("HW-B", "Bob's Mac")})
		var de *license.DeviceError
		if !errors.As(err, &de) || de.Code != license.CodeCodeRevoked {
			t.Fatalf("a revoked code: %v", err)
		}
		if _, err := node.App.License.Activate(ctx, license.ActivateInput{Code: codes["ann@crew.example"], Device: device("HW-A", "Ann's Mac")}); err != nil {
			t.Fatalf("ann's code: %v", err)
		}
		used := admin.Get(subPath+"/invitations?status=used").Expect(t, http.StatusOK)
		apptest.MustContain(t, used.Text("tbody"), "Ann's Mac")
		admin.Post(subPath+"/invitations/"+ann+"/resend", nil).Expect(t, http.StatusSeeOther)
		apptest.MustContain(t, admin.Get(subPath+"/invitations").Text(".flash.error"), "used already")
		r = admin.Post(subPath+"/invitations/revoke", url.Values{}).Expect(t, http.StatusSeeOther)
		apptest.MustContain(t, admin.Get(r.Location).Text(".flash.error"), "Select at least one invitation")

		// More invitations than free seats is allowed, with a word of warning.
		r = postMultipart(t, admin, subPath+"/invite", url.Values{"key": {pilots}, "language": {"en"}, "expires": {"3"},
			"emails": {"dan@crew.example, eve@crew.example"}}, "", "").Expect(t, http.StatusOK)
		apptest.MustContain(t, r.Text(".review-message"), "1 free seats")

		audit := auditText(admin.Get("/accounts/" + acct + "/audit"))
		for _, a := range []string{"license.invitations_sent", "license.invitation_resent", "license.invitations_revoked"} {
			apptest.MustContain(t, audit, a)
		}
	})
}
