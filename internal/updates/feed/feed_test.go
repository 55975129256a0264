package feed_test

import (
	"strings"
	"testing"
	"time"

	"gatehouse/internal/updates/feed"
	"gatehouse/internal/updates/feedcheck"
)

func rel(major, minor, sub, build, revision int, at string) feed.Release {
	t, err := time.Parse("2006-01-02 15:04", at)
	if err != nil {
		panic(err)
	}
	return feed.Release{Major: major, Minor: minor, Sub: sub, Build: build, Revision: revision, Locale: "en_US", Vendor: "parallels",
		Platform: "mac", FileURL: "https://updates.example.com/" + t.Format("20060102") + ".dmg", Size: 300<<20 + 1, ReleasedAt: t,
		Notes: "Fixes & improvements <b>"}
}

func TestUUIDLayout(t *testing.T) {
	r := rel(13, 0, 0, 13291, 482436, "2017-06-17 01:23")
	if got, want := r.UUID(), "desktop.13.0.13291.482436.en_US.parallels.mac"; got != want {
		t.Fatalf("uuid %q, want %q", got, want)
	}
}

func TestFileSizeMB(t *testing.T) {
	for _, c := range []struct {
		bytes int64
		mb    int64
	}{{0, 0}, {1, 1}, {1 << 20, 1}, {1<<20 + 1, 2}, {219515 << 20, 219515}} {
		if got := feed.FileSizeMB(c.bytes); got != c.mb {
			t.Errorf("FileSizeMB(%d) = %d, want %d", c.bytes, got, c.mb)
		}
	}
}

// history: 19.0.0, 19.1.0, 19.1.1 (withdrawn later, still an ancestor),
// 20.0.0, 20.1.0; a de_DE line with one release.
func history() []feed.Release {
	de := rel(19, 1, 0, 54000, 2, "2024-05-01 10:00")
	de.Locale = "de_DE"
	return []feed.Release{
		rel(19, 0, 0, 53000, 1, "2024-01-10 08:00"),
		rel(19, 1, 0, 54000, 1, "2024-05-01 10:00"),
		rel(19, 1, 1, 54100, 1, "2024-06-01 10:00"),
		rel(20, 0, 0, 55000, 1, "2024-09-01 09:30"),
		rel(20, 1, 0, 55500, 1, "2024-12-01 23:59"),
		de,
	}
}

func TestGenerateEveryCase(t *testing.T) {
	h := history()
	withdrawn := h[2]
	live := []feed.Release{h[0], h[1], h[3], h[4], h[5]} // 19.1.1 withdrawn
	early := live
	business := []feed.Release{h[0], h[1], h[3], h[5]} // 20.1 not yet promoted
	uuids := func(rs ...feed.Release) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.UUID())
		}
		return out
	}
	cases := []struct {
		name     string
		listed   []feed.Release
		filter   feed.Filter
		expected []feedcheck.Version
	}{
		{"empty", nil, nil, nil},
		{"early channel", early, nil, []feedcheck.Version{
			feedcheck.VersionOf(h[5]),
			feedcheck.VersionOf(h[1], uuids(h[0])...),
			feedcheck.VersionOf(h[4], uuids(h[3], withdrawn, h[1], h[0])...),
		}},
		{"business channel", business, nil, []feedcheck.Version{
			feedcheck.VersionOf(h[5]),
			feedcheck.VersionOf(h[1], uuids(h[0])...),
			feedcheck.VersionOf(h[3], uuids(withdrawn, h[1], h[0])...),
		}},
		{"installation on 19 without major upgrades", early, feed.NoMajorUpgrade(19), []feedcheck.Version{
			feedcheck.VersionOf(h[5]),
			feedcheck.VersionOf(h[1], uuids(h[0])...),
		}},
		{"installation on 20 without major upgrades", early, feed.NoMajorUpgrade(20), []feedcheck.Version{
			feedcheck.VersionOf(h[5]),
			feedcheck.VersionOf(h[1], uuids(h[0])...),
			feedcheck.VersionOf(h[4], uuids(h[3], withdrawn, h[1], h[0])...),
		}},
		{"installation on 18 without major upgrades", early, feed.NoMajorUpgrade(18), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := feed.Generate(c.listed, feed.Options{Filter: c.filter, History: h})
			if strings.Contains(string(doc), "<!DOCTYPE") {
				t.Fatal("feed carries a DTD")
			}
			feedcheck.Check(t, doc, feedcheck.Expect{Versions: c.expected})
		})
	}
}

func TestNoMajorUpgradeKeepsMinorUpdates(t *testing.T) {
	h := history()
	f := feed.NoMajorUpgrade(19)
	got := feed.Offered(h, f)
	for _, r := range got {
		if r.Major > 19 {
			t.Errorf("offers major upgrade %s", r.UUID())
		}
	}
	// The newest 19.x of the en_US line is offered (the minor update).
	found := false
	for _, r := range got {
		if r.UUID() == h[2].UUID() {
			found = true
		}
	}
	if !found {
		t.Errorf("the newest minor update of major 19 is not offered: %v", got)
	}
	// Without the policy, 20.1 is offered to the same installation.
	if all := feed.Offered(h, nil); all[len(all)-1].UUID() != h[4].UUID() {
		t.Errorf("without the filter the newest release is not offered: %v", all)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	h := history()
	a := feed.Generate(h, feed.Options{History: h})
	rev := append([]feed.Release(nil), h...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	b := feed.Generate(rev, feed.Options{History: rev})
	if string(a) != string(b) {
		t.Fatalf("feed depends on input order:\n%s\n%s", a, b)
	}
}

// TestParseAndChoose reads generated feeds back as a client does and picks
// the update an installation would install, with and without the
// major-upgrade policy.
func TestParseAndChoose(t *testing.T) {
	h := history()
	doc := feed.Generate(h, feed.Options{History: h})
	offers, err := feed.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(offers) != 3 {
		t.Fatalf("%d offers", len(offers))
	}
	pick := func(doc []byte, installed string) string {
		t.Helper()
		o, err := feed.Parse(doc)
		if err != nil {
			t.Fatal(err)
		}
		c, err := feed.Choose(o, installed)
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			return ""
		}
		return c.UUID
	}
	on19 := h[0].UUID()
	if got := pick(doc, on19); got != h[4].UUID() {
		t.Errorf("19.0 without policy installs %q, want 20.1", got)
	}
	pinned := feed.Generate(h, feed.Options{History: h, Filter: feed.NoMajorUpgrade(19)})
	if got := pick(pinned, on19); got != h[2].UUID() {
		t.Errorf("19.0 with the policy installs %q, want 19.1.1", got)
	}
	if got := pick(doc, h[4].UUID()); got != "" {
		t.Errorf("the newest installs %q", got)
	}
	for _, bad := range []string{`<!DOCTYPE x [<!ENTITY a "b">]><ParallelsUpdates/>`, `<Other/>`, `<ParallelsUpdates><Product><Version><Major>1</Major><Update uuid="desktop.2.0.1.1.en_US.parallels.mac"><DateTime>2020-01-01 00:00:00</DateTime></Update></Version></Product></ParallelsUpdates>`} {
		if _, err := feed.Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// FuzzParse: any bytes parse or fail without panicking; what parses
// chooses without panicking.
func FuzzParse(f *testing.F) {
	h := history()
	f.Add(feed.Generate(h, feed.Options{History: h}))
	f.Add([]byte(`<ParallelsUpdates><Product/></ParallelsUpdates>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		offers, err := feed.Parse(data)
		if err != nil {
			return
		}
		_, _ = feed.Choose(offers, "desktop.19.0.53000.1.en_US.parallels.mac")
	})
}
