package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
	"gatehouse/internal/updates"
	"gatehouse/internal/updates/feed"
	"gatehouse/internal/updates/feedcheck"
)

// vendorCall calls the vendor API with the operator token.
func vendorCall(t *testing.T, base, token, method, path, contentType string, body io.Reader) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, body)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: not JSON (%d): %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

func rawGet(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestUpdateFeedOverHTTP: the operator adds, uploads and publishes releases
// through the vendor API; the channel feeds serve them (validated by
// xmllint and Python), answer conditional GETs with 304, and the hosted
// file answers Range requests.
func TestUpdateFeedOverHTTP(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		tok, err := node.App.OperatorTokens.Create(context.Background(), license.OperatorActor("test"))
		if err != nil {
			t.Fatal(err)
		}
		v := func(method, path, ct string, body io.Reader) (int, map[string]any) {
			return vendorCall(t, node.URL, tok, method, path, ct, body)
		}
		// Validation: a missing build is a 422 naming the field; unknown
		// fields are refused by the strict decoder.
		if st, m := v("POST", "/api/vendor/v1/releases", "application/json", strings.NewReader(`{"major":19,"minor":4}`)); st != 422 || !strings.Contains(fmt.Sprint(m), "build") {
			t.Fatalf("missing build: %d %v", st, m)
		}
		if st, _ := v("POST", "/api/vendor/v1/releases", "application/json", strings.NewReader(`{"major":19,"minor":4,"build":1,"colour":"red"}`)); st != 400 {
			t.Fatalf("unknown field: %d", st)
		}
		st, m := v("POST", "/api/vendor/v1/releases", "application/json", strings.NewReader(`{"major":19,"minor":4,"sub":1,"build":54985,"revision":2,
			"notes":"Fixes <things> & more","released_at":"2026-05-01 14:30:00","codename":"Sumer"}`))
		if st != 201 {
			t.Fatalf("add: %d %v", st, m)
		}
		rel := m["release"].(map[string]any)
		id := rel["id"].(string)
		if rel["uuid"] != "desktop.19.4.54985.2.en_US.parallels.mac" || rel["state"] != "draft" {
			t.Fatalf("release: %v", rel)
		}
		if st, m := v("POST", "/api/vendor/v1/releases/"+id+"/publish", "", nil); st != 422 || !strings.Contains(fmt.Sprint(m), "no file") {
			t.Fatalf("publish without file: %d %v", st, m)
		}
		file := make([]byte, 2<<20+4321)
		for i := range file {
			file[i] = byte(i * 31)
		}
		sum := sha256.Sum256(file)
		st, m = v("PUT", "/api/vendor/v1/releases/"+id+"/file?name=Install%20Desktop.dmg", "application/octet-stream", bytes.NewReader(file))
		if st != 200 || m["release"].(map[string]any)["sha256"] != hex.EncodeToString(sum[:]) {
			t.Fatalf("upload: %d %v", st, m)
		}
		if st, _ := v("POST", "/api/vendor/v1/releases/desktop.19.4.54985.2.en_US.parallels.mac/publish", "application/json", strings.NewReader(`{"channel":"early"}`)); st != 200 {
			t.Fatalf("publish: %d", st)
		}
		// A second, older release hosted elsewhere, straight to business.
		st, m = v("POST", "/api/vendor/v1/releases", "application/json", strings.NewReader(`{"major":19,"minor":3,"build":54000,
			"file_url":"https://cdn.example/19.3.dmg","sha256":"`+strings.Repeat("ab", 32)+`","size":104857600,"released_at":"2026-03-01"}`))
		if st != 201 {
			t.Fatalf("add 19.3: %d %v", st, m)
		}
		old := m["release"].(map[string]any)["id"].(string)
		if st, _ := v("POST", "/api/vendor/v1/releases/"+old+"/publish", "application/json", strings.NewReader(`{"channel":"business"}`)); st != 200 {
			t.Fatalf("publish 19.3: %d", st)
		}
		st, m = v("GET", "/api/vendor/v1/releases/"+id, "", nil)
		if st != 200 || fmt.Sprint(m["release"].(map[string]any)["ancestors"]) != "[desktop.19.3.54000.0.en_US.parallels.mac]" {
			t.Fatalf("show: %d %v", st, m)
		}

		fileURL := node.URL + "/updates/files/" + id + "/Install%20Desktop.dmg"
		at := func(s string) time.Time { tt, _ := time.Parse("2006-01-02 15:04:05", s); return tt }
		r193 := feed.Release{Major: 19, Minor: 3, Build: 54000, Locale: "en_US", Vendor: "parallels", Platform: "mac",
			FileURL: "https://cdn.example/19.3.dmg", Size: 100 << 20, ReleasedAt: at("2026-03-01 00:00:00")}
		r194 := feed.Release{Major: 19, Minor: 4, Sub: 1, Build: 54985, Revision: 2, Locale: "en_US", Vendor: "parallels", Platform: "mac",
			Codename: "Sumer", Notes: "Fixes <things> & more", FileURL: fileURL, Size: int64(len(file)), ReleasedAt: at("2026-05-01 14:30:00")}
		resp, body := rawGet(t, node.URL+"/updates/channels/early/updates.xml", nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") {
			t.Fatalf("early feed: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		feedcheck.Check(t, body, feedcheck.Expect{Versions: []feedcheck.Version{feedcheck.VersionOf(r194, r193.UUID())}})
		_, bbody := rawGet(t, node.URL+"/updates/channels/business/updates.xml", nil)
		feedcheck.Check(t, bbody, feedcheck.Expect{Versions: []feedcheck.Version{feedcheck.VersionOf(r193)}})
		if resp, _ := rawGet(t, node.URL+"/updates/channels/beta/updates.xml", nil); resp.StatusCode != 404 {
			t.Fatalf("unknown channel: %d", resp.StatusCode)
		}

		// Conditional GET.
		etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		if etag == "" || lm == "" {
			t.Fatalf("no validators: ETag %q Last-Modified %q", etag, lm)
		}
		if r, b := rawGet(t, node.URL+"/updates/channels/early/updates.xml", map[string]string{"If-None-Match": etag}); r.StatusCode != 304 || len(b) != 0 {
			t.Fatalf("If-None-Match: %d", r.StatusCode)
		}
		if r, _ := rawGet(t, node.URL+"/updates/channels/early/updates.xml", map[string]string{"If-Modified-Since": lm}); r.StatusCode != 304 {
			t.Fatalf("If-Modified-Since: %d", r.StatusCode)
		}
		if r, _ := rawGet(t, node.URL+"/updates/channels/early/updates.xml", map[string]string{"If-None-Match": `"stale"`, "If-Modified-Since": lm}); r.StatusCode != 200 {
			t.Fatalf("a stale ETag must win over the date: %d", r.StatusCode)
		}
		// Promotion changes the business feed: the old ETag gets a 200.
		br, _ := rawGet(t, node.URL+"/updates/channels/business/updates.xml", nil)
		if st, _ := v("POST", "/api/vendor/v1/releases/"+id+"/publish", "application/json", strings.NewReader(`{"channel":"business"}`)); st != 200 {
			t.Fatal("promote")
		}
		r2, b2 := rawGet(t, node.URL+"/updates/channels/business/updates.xml", map[string]string{"If-None-Match": br.Header.Get("ETag")})
		if r2.StatusCode != 200 {
			t.Fatalf("after promotion: %d", r2.StatusCode)
		}
		feedcheck.Check(t, b2, feedcheck.Expect{Versions: []feedcheck.Version{feedcheck.VersionOf(r194, r193.UUID())}})

		// The hosted file: whole, ranges, HEAD, If-Range.
		fr, fb := rawGet(t, fileURL, nil)
		if fr.StatusCode != 200 || !bytes.Equal(fb, file) || fr.Header.Get("Accept-Ranges") != "bytes" || fr.Header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` {
			t.Fatalf("file: %d (%d bytes) %v", fr.StatusCode, len(fb), fr.Header)
		}
		for _, rg := range []struct {
			hdr        string
			start, end int
		}{{"bytes=0-9", 0, 9}, {"bytes=1048570-1048590", 1048570, 1048590}, {fmt.Sprintf("bytes=-%d", 100), len(file) - 100, len(file) - 1}, {"bytes=2097150-", 2097150, len(file) - 1}} {
			r, b := rawGet(t, fileURL, map[string]string{"Range": rg.hdr})
			if r.StatusCode != 206 || !bytes.Equal(b, file[rg.start:rg.end+1]) ||
				r.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", rg.start, rg.end, len(file)) {
				t.Fatalf("Range %s: %d %q (%d bytes)", rg.hdr, r.StatusCode, r.Header.Get("Content-Range"), len(b))
			}
		}
		if r, _ := rawGet(t, fileURL, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(file)+10)}); r.StatusCode != 416 {
			t.Fatalf("unsatisfiable range: %d", r.StatusCode)
		}
		if r, b := rawGet(t, fileURL, map[string]string{"Range": "bytes=0-9", "If-Range": `"other"`}); r.StatusCode != 200 || len(b) != len(file) {
			t.Fatalf("If-Range mismatch: %d", r.StatusCode)
		}
		if r, _ := rawGet(t, node.URL+"/updates/files/"+id+"/other.dmg", nil); r.StatusCode != 404 {
			t.Fatalf("wrong name: %d", r.StatusCode)
		}
		// Withdrawn: gone from the feed and the file route.
		if st, _ := v("POST", "/api/vendor/v1/releases/"+id+"/withdraw", "application/json", strings.NewReader(`{"reason":"bad build"}`)); st != 200 {
			t.Fatal("withdraw")
		}
		if r, _ := rawGet(t, fileURL, nil); r.StatusCode != 404 {
			t.Fatalf("withdrawn file: %d", r.StatusCode)
		}
		_, eb := rawGet(t, node.URL+"/updates/channels/early/updates.xml", nil)
		feedcheck.Check(t, eb, feedcheck.Expect{Versions: []feedcheck.Version{feedcheck.VersionOf(r193)}})
		if st, m := v("GET", "/api/vendor/v1/releases?state=withdrawn", "", nil); st != 200 || len(m["releases"].([]any)) != 1 {
			t.Fatalf("list withdrawn: %d %v", st, m)
		}
	})
}

// TestDownloadLinksFollowReleases: /download and the personal invitation
// link redirect to the installer of the current release on the visitor's
// channel (asked for, or the invitation's organisation's), in the
// visitor's language, carrying the experience and the code; with no
// release they fall back to --download-url.
func TestDownloadLinksFollowReleases(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL, apptest.Options{Configure: func(cfg *app.Config) {
			cfg.DownloadURL = "https://downloads.example.com/fallback.dmg"
		}})
		c := apptest.NewClient(t, node.URL)
		r := c.Get("/download?experience=sso").Expect(t, http.StatusFound)
		if r.Location != "https://downloads.example.com/fallback.dmg?experience=sso" {
			t.Fatalf("no release: %q", r.Location)
		}
		c.Get("/download?experience=sso&channel=beta").Expect(t, http.StatusBadRequest)

		ctx := context.Background()
		svc := node.App.Updates
		add := func(minor, build int, locale, channel string) *updates.Release {
			in := updates.ReleaseInput{Major: intp(21), Minor: intp(minor), Build: intp(build), Locale: locale,
				FileURL: fmt.Sprintf("https://cdn.example/%d-%s.dmg", build, locale), SHA256: strings.Repeat("e", 64), Size: 1 << 20}
			rel, err := svc.AddRelease(ctx, in, nil, operatorActor)
			if err != nil {
				t.Fatal(err)
			}
			if rel, err = svc.Publish(ctx, rel.ID, updates.PublishInput{Channel: channel}, operatorActor); err != nil {
				t.Fatal(err)
			}
			return rel
		}
		add(0, 60000, "en_US", "business")
		add(0, 60000, "de_DE", "business")
		add(1, 61000, "en_US", "early")
		publishHosted(t, node, 0, 59000, []byte("older build")) // 20.0: older, never the current one

		loc := func(path string, hdr map[string]string) *url.URL {
			t.Helper()
			req, _ := http.NewRequest("GET", node.URL+path, nil)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := c.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("%s: %d", path, resp.StatusCode)
			}
			u, _ := url.Parse(resp.Header.Get("Location"))
			return u
		}
		u := loc("/download?experience=sso", nil)
		if u.Path != "/60000-en_US.dmg" || u.Query().Get("experience") != "sso" {
			t.Fatalf("business default: %s", u)
		}
		if u := loc("/download?experience=sso", map[string]string{"Accept-Language": "fr-FR, de;q=0.8, en;q=0.5"}); u.Path != "/60000-de_DE.dmg" {
			t.Fatalf("German visitor: %s", u)
		}
		if u := loc("/download?experience=sso&channel=early", nil); u.Path != "/61000-en_US.dmg" {
			t.Fatalf("early channel: %s", u)
		}

		// A personal invitation link of an organisation on the early
		// channel lands on the early build, with its code.
		alice := apptest.NewClient(t, node.URL)
		alice.SignUp("alice@dl.example", pw, "Alice")
		acct := alice.CreateAccount("Download Corp")
		sub := registerKey(t, alice, acct, issue(t, node, license.EditionBusiness, license.ModelPerDevice, 5, false), "DL")
		if _, err := svc.SaveSettings(ctx, acct, updates.SettingsInput{Source: "vendor", Channel: "early", CheckFrequency: "weekly"}, operatorActor); err != nil {
			t.Fatal(err)
		}
		subPath := "/accounts/" + acct + "/licenses/" + sub
		key := strings.TrimPrefix(alice.Get(subPath).Doc.Find("table.keys tbody tr").First().AttrOr("id", ""), "key-")
		rr := postMultipart(t, alice, subPath+"/invite", url.Values{"key": {key}, "language": {"en"}, "expires": {"7"},
			"emails": {"new@dl.example"}}, "", "").Expect(t, http.StatusOK)
		action, form := hiddenForm(rr, `form[action$="/invite/send"]`)
		alice.PostRaw(action, form).Expect(t, http.StatusSeeOther)
		link := outboxLink(t, node.App.DB, "new@dl.example", "/download?code=")
		code := strings.TrimPrefix(link[strings.Index(link, "/download?"):], "/download?code=")
		u = loc("/download?code="+code, nil)
		if u.Path != "/61000-en_US.dmg" || u.Query().Get("code") == "" || u.Query().Get("experience") != "key" {
			t.Fatalf("invitation link: %s", u)
		}
		// An explicit channel still wins.
		if u := loc("/download?channel=business&code="+code, nil); u.Path != "/60000-en_US.dmg" {
			t.Fatalf("invitation link with channel: %s", u)
		}
	})
}
