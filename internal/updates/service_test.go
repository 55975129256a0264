package updates_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
	"gatehouse/internal/updates"
	"gatehouse/internal/updates/feed"
	"gatehouse/internal/updates/feedcheck"
	"gatehouse/internal/updates/httpfetch"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var operator = audit.Actor{Type: audit.ActorOperator, ID: "test", Label: "operator: test"}

func n(v int) *int { return &v }

// clock is a settable time source shared by services of one test.
type clock struct{ t atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.set(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	return c
}
func (c *clock) set(t time.Time)     { c.t.Store(t.UnixNano()) }
func (c *clock) now() time.Time      { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }
func newSvc(db *store.DB, c *clock) *updates.Service {
	return updates.New(db, updates.Config{PublicURL: "https://gh.example", Now: c.now, Recheck: time.Hour, Fetch: httpfetch.New(nil)})
}

func input(major, minor, sub, build int) updates.ReleaseInput {
	return updates.ReleaseInput{Major: n(major), Minor: n(minor), Sub: n(sub), Build: n(build), Revision: n(1),
		ReleasedAt: "2026-02-01 10:20:30", Notes: "What's new in " + "build"}
}

func fileBytes(size int, seed byte) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func mustAccount(t *testing.T, db *store.DB, name string) string {
	t.Helper()
	id := ids.New()
	if _, err := db.Exec(context.Background(), `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`, id, name, store.Now()); err != nil {
		t.Fatal(err)
	}
	return id
}

func auditCount(t *testing.T, db *store.DB, action string) int {
	t.Helper()
	var c int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_log WHERE action = ?`, action).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func expectVersions(s *updates.Service, hist []feed.Release, rs ...*updates.Release) []feedcheck.Version {
	var out []feedcheck.Version
	for _, r := range rs {
		fr := feed.Release{Major: r.Major, Minor: r.Minor, Sub: r.Sub, SubSub: r.SubSub, Build: r.Build, Revision: r.Revision,
			Locale: r.Locale, Vendor: r.Vendor, Platform: r.Platform, Codename: r.Codename, Name: r.Name, Notes: r.Notes,
			FileURL: s.FileURLFor(r), Size: r.Size, ReleasedAt: r.ReleasedAt.Time}
		out = append(out, feedcheck.VersionOf(fr, feed.Ancestors(fr, hist)...))
	}
	return out
}

func TestReleaseLifecycleAndChannelFeeds(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		s := newSvc(db, c)
		other := newSvc(db, c) // a second node on the same database

		body := fileBytes(3*updates.ChunkSize+123, 1)
		r1, err := s.AddRelease(ctx, input(19, 0, 0, 53000), bytes.NewReader(body), operator)
		if err != nil {
			t.Fatal(err)
		}
		if r1.SHA256 != shaHex(body) || r1.Size != int64(len(body)) || r1.State != updates.StateDraft {
			t.Fatalf("stored release: %+v", r1)
		}
		in2 := input(19, 1, 0, 54000)
		in2.FileURL, in2.SHA256, in2.Size, in2.Codename = "https://cdn.example/d19.1.dmg", strings.Repeat("ab", 32), 5<<20, "Sumer"
		r2, err := s.AddRelease(ctx, in2, nil, operator)
		if err != nil {
			t.Fatal(err)
		}
		in3 := input(20, 0, 0, 55000)
		in3.FileURL, in3.SHA256, in3.Size = "https://cdn.example/d20.dmg", strings.Repeat("cd", 32), 7<<20
		r3, err := s.AddRelease(ctx, in3, nil, operator)
		if err != nil {
			t.Fatal(err)
		}

		// Drafts are offered nowhere.
		for _, ch := range []string{updates.ChannelEarly, updates.ChannelBusiness} {
			doc, err := other.ChannelFeed(ctx, ch)
			if err != nil {
				t.Fatal(err)
			}
			feedcheck.Check(t, doc.Body, feedcheck.Expect{})
		}

		// Publish 19.0 and 19.1 straight to business, 20.0 to early only.
		for _, r := range []*updates.Release{r1, r2} {
			if _, err := s.Publish(ctx, r.ID, updates.PublishInput{Channel: updates.ChannelBusiness}, operator); err != nil {
				t.Fatal(err)
			}
		}
		r3, err = s.Publish(ctx, r3.UUID(), updates.PublishInput{}, operator)
		if err != nil {
			t.Fatal(err)
		}
		if !r3.BusinessAt.IsZero() {
			t.Fatalf("no delay configured, yet business_at = %v", r3.BusinessAt)
		}
		r1, _ = s.Release(ctx, r1.ID)
		r2, _ = s.Release(ctx, r2.ID)
		hist := []feed.Release{}
		for _, r := range []*updates.Release{r1, r2, r3} {
			hist = append(hist, feed.Release{Major: r.Major, Minor: r.Minor, Sub: r.Sub, SubSub: r.SubSub, Build: r.Build, Revision: r.Revision, Locale: r.Locale, Vendor: r.Vendor, Platform: r.Platform})
		}

		// The other node's cache (Recheck 1 h) holds the empty feeds, but
		// the generation check sees the change… after its recheck time.
		doc, _ := other.ChannelFeed(ctx, updates.ChannelEarly)
		feedcheck.Check(t, doc.Body, feedcheck.Expect{})
		c.add(2 * time.Hour)
		early, err := other.ChannelFeed(ctx, updates.ChannelEarly)
		if err != nil {
			t.Fatal(err)
		}
		feedcheck.Check(t, early.Body, feedcheck.Expect{Versions: expectVersions(s, hist, r2, r3)})
		business, err := s.ChannelFeed(ctx, updates.ChannelBusiness)
		if err != nil {
			t.Fatal(err)
		}
		feedcheck.Check(t, business.Body, feedcheck.Expect{Versions: expectVersions(s, hist, r2)})
		if !strings.Contains(string(early.Body), "https://gh.example/updates/files/"+r1.ID) && false {
			t.Fatal("unreachable")
		}

		// The per-installation filter: an installation on 19 with "no next
		// major version" sees 19.1 only; on the early channel too.
		pinned, err := s.FeedFor(ctx, updates.ChannelEarly, feed.NoMajorUpgrade(19))
		if err != nil {
			t.Fatal(err)
		}
		feedcheck.Check(t, pinned.Body, feedcheck.Expect{Versions: expectVersions(s, hist, r2)})
		inst, err := s.InstallationFeed(ctx, updates.ChannelEarly, updates.InstallationPolicy{NoMajorUpgrade: true, InstalledMajor: 19})
		if err != nil || string(inst.Body) != string(pinned.Body) {
			t.Fatalf("installation feed with the policy differs from the filtered feed: %v", err)
		}
		if again, _ := s.InstallationFeed(ctx, updates.ChannelEarly, updates.InstallationPolicy{NoMajorUpgrade: true, InstalledMajor: 19}); again != inst {
			t.Fatal("the installation feed is not served from the cache")
		}
		free, _ := s.InstallationFeed(ctx, updates.ChannelEarly, updates.InstallationPolicy{InstalledMajor: 19})
		feedcheck.Check(t, free.Body, feedcheck.Expect{Versions: expectVersions(s, hist, r2, r3)})

		// Promotion moves 20.0 to business.
		if _, err := s.Publish(ctx, r3.ID, updates.PublishInput{Channel: "business"}, operator); err != nil {
			t.Fatal(err)
		}
		business2, _ := s.ChannelFeed(ctx, updates.ChannelBusiness)
		feedcheck.Check(t, business2.Body, feedcheck.Expect{Versions: expectVersions(s, hist, r2, r3)})
		if business2.ETag == business.ETag {
			t.Fatal("ETag unchanged after the feed changed")
		}
		// Promoting twice is refused with a reason.
		if _, err := s.Publish(ctx, r3.ID, updates.PublishInput{Channel: "business"}, operator); err == nil || !strings.Contains(err.Error(), "already on the business channel") {
			t.Fatalf("second promotion: %v", err)
		}

		// Withdrawing 19.1 takes it off both channels; it stays an ancestor.
		if _, err := s.Withdraw(ctx, r2.ID, "crashes on start", operator); err != nil {
			t.Fatal(err)
		}
		early2, _ := s.ChannelFeed(ctx, updates.ChannelEarly)
		feedcheck.Check(t, early2.Body, feedcheck.Expect{Versions: expectVersions(s, hist, r1, r3)})
		if _, err := s.Publish(ctx, r2.ID, updates.PublishInput{}, operator); err == nil {
			t.Fatal("a withdrawn release was published again")
		}
		for action, want := range map[string]int{"update.release_added": 3, "update.release_published": 3, "update.release_promoted": 1, "update.release_withdrawn": 1} {
			if got := auditCount(t, db, action); got != want {
				t.Errorf("audit %s: %d entries, want %d", action, got, want)
			}
		}

		// The hosted file reads back with every range, verified per chunk.
		_, rd, err := s.ReleaseFile(ctx, r1.ID, r1.FileName)
		if err != nil {
			t.Fatal(err)
		}
		all, err := io.ReadAll(rd)
		if err != nil || !bytes.Equal(all, body) {
			t.Fatalf("read back: %v (equal %v)", err, bytes.Equal(all, body))
		}
		for _, off := range []int64{0, updates.ChunkSize - 1, updates.ChunkSize, int64(len(body)) - 10} {
			if _, err := rd.Seek(off, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 10)
			if _, err := io.ReadFull(rd, buf); err != nil || !bytes.Equal(buf, body[off:off+10]) {
				t.Fatalf("range at %d: %v", off, err)
			}
		}
		// Damage a stored chunk: reading it fails instead of serving it.
		if _, err := db.Exec(ctx, `UPDATE update_blob_chunks SET data = ? WHERE blob_id = ? AND seq = 1`, fileBytes(updates.ChunkSize, 9), r1.BlobID); err != nil {
			t.Fatal(err)
		}
		_, rd, _ = s.ReleaseFile(ctx, r1.ID, r1.FileName)
		if _, err := io.ReadAll(rd); !errors.Is(err, updates.ErrChecksum) {
			t.Fatalf("damaged chunk: %v, want a checksum error", err)
		}
		// Drafts and unknown names are not served.
		if _, _, err := s.ReleaseFile(ctx, r1.ID, "other.dmg"); !errors.Is(err, updates.ErrNotFound) {
			t.Fatalf("wrong name: %v", err)
		}
	})
}

func TestBusinessDelayAndValidation(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		s := updates.New(db, updates.Config{PublicURL: "https://gh.example", Now: c.now, BusinessDelay: 72 * time.Hour})
		in := input(21, 0, 0, 60000)
		in.FileURL, in.SHA256, in.Size = "https://cdn.example/d21.dmg", strings.Repeat("0", 64), 1
		r, err := s.AddRelease(ctx, in, nil, operator)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Publish(ctx, r.ID, updates.PublishInput{}, operator); err != nil {
			t.Fatal(err)
		}
		doc, _ := s.ChannelFeed(ctx, updates.ChannelBusiness)
		if strings.Contains(string(doc.Body), r.UUID()) {
			t.Fatal("business channel offers a release before its delay")
		}
		c.add(72*time.Hour + time.Second)
		doc2, _ := s.ChannelFeed(ctx, updates.ChannelBusiness)
		if !strings.Contains(string(doc2.Body), r.UUID()) {
			t.Fatal("business channel does not offer the release after its delay (cache not expired at the scheduled time?)")
		}
		if !doc2.LastModified.After(doc.LastModified) {
			t.Fatalf("Last-Modified did not move with the scheduled promotion: %v → %v", doc.LastModified, doc2.LastModified)
		}

		// Bad input names the field.
		bad := []struct {
			in    updates.ReleaseInput
			field string
		}{
			{updates.ReleaseInput{Minor: n(0), Build: n(1)}, "major"},
			{updates.ReleaseInput{Major: n(1), Minor: n(0), Build: n(0)}, "build"},
			{updates.ReleaseInput{Major: n(1), Minor: n(0), Build: n(1), Locale: "english"}, "locale"},
			{updates.ReleaseInput{Major: n(1), Minor: n(0), Build: n(1), Vendor: "Big.Corp"}, "vendor"},
			{updates.ReleaseInput{Major: n(1), Minor: n(0), Build: n(1), FileURL: "ftp://x/y"}, "file_url"},
			{updates.ReleaseInput{Major: n(1), Minor: n(0), Build: n(1), FileURL: "http://cdn.example/y"}, "file_url"},
			{updates.ReleaseInput{Major: n(1), Minor: n(0), Build: n(1), FileURL: "https://cdn.example/y", Size: 10}, "sha256"},
			{updates.ReleaseInput{Major: n(1), Minor: n(0), Build: n(1), FileURL: "https://cdn.example/y", SHA256: strings.Repeat("a", 64)}, "size"},
			{updates.ReleaseInput{Major: n(1), Minor: n(0), Build: n(1), ReleasedAt: "yesterday"}, "released_at"},
			{updates.ReleaseInput{Major: n(1), Minor: n(0), Build: n(1), Notes: "a\x00b"}, "notes"},
		}
		for _, b := range bad {
			_, err := s.AddRelease(ctx, b.in, nil, operator)
			fe, ok := updates.IsFieldError(err)
			if !ok || fe.Field != b.field {
				t.Errorf("%+v: error %v, want a %s field error", b.in, err, b.field)
			}
		}
		// Same uuid twice.
		if _, err := s.AddRelease(ctx, in, nil, operator); err == nil || !strings.Contains(err.Error(), "already exists") {
			t.Fatalf("duplicate: %v", err)
		}
		// A declared SHA-256 that the upload does not have: nothing stored.
		in2 := input(22, 0, 0, 1)
		in2.SHA256 = strings.Repeat("1", 64)
		if _, err := s.AddRelease(ctx, in2, bytes.NewReader([]byte("hello")), operator); err == nil || !strings.Contains(err.Error(), "SHA-256") {
			t.Fatalf("bad checksum: %v", err)
		}
		var blobs int
		_ = db.QueryRow(ctx, `SELECT COUNT(*) FROM update_blobs`).Scan(&blobs)
		if blobs != 0 {
			t.Fatalf("%d blobs left behind by a refused upload", blobs)
		}
		// A draft without a file cannot be published.
		d, err := s.AddRelease(ctx, input(23, 0, 0, 1), nil, operator)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Publish(ctx, d.ID, updates.PublishInput{}, operator); err == nil || !strings.Contains(err.Error(), "no file") {
			t.Fatalf("publish without file: %v", err)
		}
		d, err = s.UploadFile(ctx, d.ID, "Install Desktop.dmg", bytes.NewReader([]byte("dmg bytes")), operator)
		if err != nil || d.FileName != "Install Desktop.dmg" || d.Size != 9 {
			t.Fatalf("upload: %+v %v", d, err)
		}
		if _, err := s.Publish(ctx, d.ID, updates.PublishInput{}, operator); err != nil {
			t.Fatal(err)
		}
	})
}

func TestLocalUpdateServerMirrors(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		s := newSvc(db, c)
		acct := mustAccount(t, db, "Org A")
		other := mustAccount(t, db, "Org B")
		admin := audit.Actor{Type: audit.ActorPerson, ID: "p", Label: "admin"}

		remote := fileBytes(2*updates.ChunkSize+77, 3)
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			switch r.URL.Path {
			case "/good.dmg":
				_, _ = w.Write(remote)
			case "/tampered.dmg":
				b := append([]byte(nil), remote...)
				b[100] ^= 1
				_, _ = w.Write(b)
			default:
				http.NotFound(w, r)
			}
		}))
		defer srv.Close()

		hostedBody := fileBytes(4000, 5)
		hosted, _ := s.AddRelease(ctx, input(19, 2, 0, 54500), bytes.NewReader(hostedBody), operator)
		inURL := input(19, 3, 0, 54600)
		inURL.FileURL, inURL.SHA256, inURL.Size = srv.URL+"/good.dmg", shaHex(remote), int64(len(remote))
		byURL, err := s.AddRelease(ctx, inURL, nil, operator)
		if err != nil {
			t.Fatal(err)
		}
		inBad := input(19, 4, 0, 54700)
		// It declares the SHA-256 of its genuine bytes; the server sends them
		// with one bit flipped.
		genuine := append([]byte(nil), remote...)
		genuine[5] ^= 0xff
		inBad.FileURL, inBad.SHA256, inBad.Size = srv.URL+"/tampered.dmg", shaHex(genuine), int64(len(remote))
		tampered, _ := s.AddRelease(ctx, inBad, nil, operator)
		early, _ := s.AddRelease(ctx, func() updates.ReleaseInput {
			i := input(20, 0, 0, 55000)
			i.FileURL, i.SHA256, i.Size = srv.URL+"/good.dmg", shaHex(remote), int64(len(remote))
			return i
		}(), nil, operator)
		for _, r := range []*updates.Release{hosted, byURL, tampered} {
			if _, err := s.Publish(ctx, r.ID, updates.PublishInput{Channel: "business"}, operator); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Publish(ctx, early.ID, updates.PublishInput{}, operator); err != nil {
			t.Fatal(err)
		}

		st, err := s.Settings(ctx, acct)
		if err != nil || st.Source != updates.SourceVendor || st.Channel != updates.ChannelBusiness || len(st.FeedToken) != 32 {
			t.Fatalf("default settings: %+v %v", st, err)
		}
		// The business organisation cannot mirror an early-only release.
		if err := s.AddMirror(ctx, acct, early.ID, admin); err == nil || !strings.Contains(err.Error(), "not offered on your business channel") {
			t.Fatalf("mirror early release on business: %v", err)
		}
		for _, r := range []*updates.Release{hosted, byURL, tampered} {
			if err := s.AddMirror(ctx, acct, r.ID, admin); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AddMirror(ctx, acct, hosted.ID, admin); err == nil {
			t.Fatal("mirroring twice accepted")
		}
		// Nothing is in the local feed before the job verified the files.
		doc, err := s.LocalFeed(ctx, st.FeedToken)
		if err != nil {
			t.Fatal(err)
		}
		feedcheck.Check(t, doc.Body, feedcheck.Expect{})

		ready, err := s.RunMirrors(ctx)
		if err != nil || ready != 2 {
			t.Fatalf("mirror run: %d ready, %v", ready, err)
		}
		ms, _ := s.Mirrors(ctx, acct)
		states := map[string]updates.Mirror{}
		for _, m := range ms {
			states[m.Release.ID] = m
		}
		if states[hosted.ID].State != "ready" || states[byURL.ID].State != "ready" || states[tampered.ID].State != "failed" ||
			!strings.Contains(states[tampered.ID].Error, "SHA-256") {
			t.Fatalf("mirror states: %+v", states)
		}
		// The failed one is retried later, not at once.
		if ready, _ := s.RunMirrors(ctx); ready != 0 {
			t.Fatal("retried without waiting")
		}

		hist := []feed.Release{}
		for _, r := range []*updates.Release{hosted, byURL, tampered, early} {
			hist = append(hist, feed.Release{Major: r.Major, Minor: r.Minor, Sub: r.Sub, Build: r.Build, Revision: r.Revision, Locale: r.Locale, Vendor: r.Vendor, Platform: r.Platform})
		}
		doc, _ = s.LocalFeed(ctx, st.FeedToken)
		want := feedcheck.VersionOf(feed.Release{Major: 19, Minor: 3, Build: 54600, Revision: 1, Locale: "en_US", Vendor: "parallels", Platform: "mac",
			Notes: byURL.Notes, FileURL: "https://gh.example/updates/local/" + st.FeedToken + "/files/" + byURL.ID + "/good.dmg",
			Size: byURL.Size, ReleasedAt: byURL.ReleasedAt.Time}, feed.Ancestors(feed.Release{Major: 19, Minor: 3, Build: 54600, Revision: 1, Locale: "en_US", Vendor: "parallels", Platform: "mac"}, hist)...)
		feedcheck.Check(t, doc.Body, feedcheck.Expect{Versions: []feedcheck.Version{want}})

		// The mirrored file is served from the store, byte for byte, and
		// the remote was fetched once.
		_, rd, err := s.MirrorFile(ctx, st.FeedToken, byURL.ID, "good.dmg")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rd)
		if shaHex(got) != byURL.SHA256 || hits.Load() != 2 {
			t.Fatalf("mirrored file: sha %s, remote hits %d", shaHex(got), hits.Load())
		}
		// Another organisation's token does not reach it; the other
		// organisation mirrors nothing.
		stB, _ := s.Settings(ctx, other)
		if _, _, err := s.MirrorFile(ctx, stB.FeedToken, byURL.ID, "good.dmg"); !errors.Is(err, updates.ErrNotFound) {
			t.Fatalf("other org's token: %v", err)
		}
		if err := s.RemoveMirror(ctx, other, byURL.ID, admin); !errors.Is(err, updates.ErrNotFound) {
			t.Fatalf("other org removes A's mirror: %v", err)
		}

		// Local settings point installations at the local feed.
		if _, err := s.SaveSettings(ctx, acct, updates.SettingsInput{Source: "local", Channel: "business", CheckFrequency: "daily", AutoDownload: true}, admin); err != nil {
			t.Fatal(err)
		}
		cs, err := s.ClientSettingsFor(ctx, acct)
		if err != nil || cs.FeedURL != s.LocalFeedURL(st.FeedToken) || cs.Policy != cs.FeedURL || !cs.UserControlsLocked || cs.CheckFrequencyCode != 1 || !cs.AutoDownload {
			t.Fatalf("client settings: %+v %v", cs, err)
		}
		if cs, _ := s.ClientSettingsFor(ctx, other); cs.Source != "vendor" || cs.Policy != updates.VendorPolicyValue || cs.FeedURL != s.ChannelFeedURL("business") {
			t.Fatalf("defaults: %+v", cs)
		}
		if _, err := s.SaveSettings(ctx, acct, updates.SettingsInput{Source: "local", Channel: "business", CheckFrequency: "hourly"}, admin); err == nil {
			t.Fatal("bad frequency accepted")
		}

		// Withdrawing the release removes it from the local feed too.
		if _, err := s.Withdraw(ctx, byURL.ID, "", operator); err != nil {
			t.Fatal(err)
		}
		// (19.2, still mirrored, is the newest left.)
		doc, _ = s.LocalFeed(ctx, st.FeedToken)
		hf := feed.Release{Major: 19, Minor: 2, Build: 54500, Revision: 1, Locale: "en_US", Vendor: "parallels", Platform: "mac",
			Notes: hosted.Notes, FileURL: "https://gh.example/updates/local/" + st.FeedToken + "/files/" + hosted.ID + "/" + hosted.FileName,
			Size: hosted.Size, ReleasedAt: hosted.ReleasedAt.Time}
		feedcheck.Check(t, doc.Body, feedcheck.Expect{Versions: []feedcheck.Version{feedcheck.VersionOf(hf, feed.Ancestors(hf, hist)...)}})
		if _, _, err := s.MirrorFile(ctx, st.FeedToken, byURL.ID, "good.dmg"); !errors.Is(err, updates.ErrNotFound) {
			t.Fatalf("withdrawn mirror still served: %v", err)
		}
		if err := s.RemoveMirror(ctx, acct, byURL.ID, admin); err != nil {
			t.Fatal(err)
		}
		for action, want := range map[string]int{"update.mirror_added": 3, "update.mirror_ready": 2, "update.mirror_failed": 1, "update.mirror_removed": 1, "update.settings_changed": 1} {
			if got := auditCount(t, db, action); got != want {
				t.Errorf("audit %s: %d, want %d", action, got, want)
			}
		}
	})
}
