package feed

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Offer is one update as a client reads it from a feed.
type Offer struct {
	UUID                   string
	Major, Minor           int
	Build, Revision        int
	Codename               string
	Name, Description      string
	FilePath               string
	FileSizeMB             int64
	DateTime               time.Time
	Locale, Vendor, OsType string
	Ancestors              []string
}

// MaxFeedSize bounds the feeds Parse reads.
const MaxFeedSize = 4 << 20

// Parse reads a feed the way Desktop does (the reference client uses it):
// element by element, refusing DTDs, and checking that each update's uuid
// agrees with its elements.
func Parse(data []byte) ([]Offer, error) {
	if len(data) > MaxFeedSize {
		return nil, fmt.Errorf("feed: larger than %d bytes", MaxFeedSize)
	}
	if bytes.Contains(data, []byte("<!DOCTYPE")) || bytes.Contains(data, []byte("<!ENTITY")) {
		return nil, errors.New("feed: DTDs are not accepted")
	}
	var doc xmlFeed
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("feed: %w", err)
	}
	if doc.XMLName.Local != "ParallelsUpdates" {
		return nil, fmt.Errorf("feed: root element %q", doc.XMLName.Local)
	}
	var out []Offer
	for _, v := range doc.Product.Versions {
		u := v.Update
		t, err := time.Parse(DateTimeLayout, u.DateTime)
		if err != nil {
			return nil, fmt.Errorf("feed: %s: DateTime %q is not yyyy-mm-dd hh:mm:ss", u.UUID, u.DateTime)
		}
		o := Offer{UUID: u.UUID, Major: v.Major, Minor: v.Minor, Build: v.SubMinor, Revision: v.SubSubMinor, Codename: v.StringRepresentation,
			Name: u.UpdateName, Description: u.UpdateDescription, FilePath: u.FilePath, FileSizeMB: u.FileSize, DateTime: t,
			Locale: u.LocaleName, Vendor: u.DistributorName, OsType: u.OsType, Ancestors: u.Ancestry.Ancestors}
		if want := fmt.Sprintf("desktop.%d.%d.%d.%d.%s.%s.%s", o.Major, o.Minor, o.Build, o.Revision, o.Locale, o.Vendor, o.OsType); want != o.UUID {
			return nil, fmt.Errorf("feed: uuid %q disagrees with its elements (%s)", o.UUID, want)
		}
		out = append(out, o)
	}
	return out, nil
}

// ParseUUID reads desktop.<major>.<minor>.<build>.<revision>.<locale>.<vendor>.<platform>.
func ParseUUID(s string) (major, minor, build, revision int, locale, vendor, platform string, err error) {
	p := strings.Split(s, ".")
	if len(p) != 8 || p[0] != "desktop" {
		return 0, 0, 0, 0, "", "", "", fmt.Errorf("%q is not an update uuid", s)
	}
	n := make([]int, 4)
	for i := range n {
		if n[i], err = strconv.Atoi(p[i+1]); err != nil {
			return 0, 0, 0, 0, "", "", "", fmt.Errorf("%q is not an update uuid", s)
		}
	}
	return n[0], n[1], n[2], n[3], p[5], p[6], p[7], nil
}

// Choose picks the update an installation running installed (a uuid) would
// install: an offer of its line (locale, vendor, platform) with a higher
// version that lists installed among its ancestors; the newest such.
func Choose(offers []Offer, installed string) (*Offer, error) {
	major, minor, build, revision, locale, vendor, platform, err := ParseUUID(installed)
	if err != nil {
		return nil, err
	}
	cur := [4]int{major, minor, build, revision}
	var best *Offer
	for i := range offers {
		o := &offers[i]
		if o.Locale != locale || o.Vendor != vendor || o.OsType != platform {
			continue
		}
		v := [4]int{o.Major, o.Minor, o.Build, o.Revision}
		if !lessVersion(cur, v) {
			continue
		}
		listed := false
		for _, a := range o.Ancestors {
			listed = listed || a == installed
		}
		if !listed {
			continue
		}
		if best == nil || lessVersion([4]int{best.Major, best.Minor, best.Build, best.Revision}, v) {
			best = o
		}
	}
	return best, nil
}

func lessVersion(a, b [4]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}
