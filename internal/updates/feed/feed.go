// Package feed writes the update feed Desktop installations read: the XML
// document of the reference guide's "update XML file" (root
// ParallelsUpdates, one Product, a Version per offered update with its Update,
// one Ancestor per earlier update of the same line). Existing clients parse
// it, so element names, their order and the value formats are fixed; the
// schema in feed.xsd states them and tests validate every generated feed
// against it.
//
// The package is pure: it takes releases and returns bytes. Which releases a
// channel, an organisation's local server or one installation sees is decided
// by the caller (package updates) and by a Filter.
package feed

import (
	"bytes"
	_ "embed"
	"encoding/xml"
	"fmt"
	"sort"
	"time"
)

//go:embed feed.xsd
var schema []byte

// Schema returns the XML Schema every generated feed validates against.
func Schema() []byte { return append([]byte(nil), schema...) }

// DefaultProductName is the ProductName clients expect.
const DefaultProductName = "Parallels Desktop"

// DateTimeLayout is the DateTime format of the feed (UTC).
const DateTimeLayout = "2006-01-02 15:04:05"

// Release is what the feed needs of one release.
type Release struct {
	Major, Minor, Sub, SubSub int
	Build, Revision           int
	Locale                    string // en_US
	Vendor                    string // DistributorName, e.g. parallels
	Platform                  string // OsType, e.g. mac
	Codename                  string // StringRepresentation (may be empty)
	Name                      string // UpdateName
	Notes                     string // UpdateDescription
	FileURL                   string // FilePath
	Size                      int64  // bytes; the feed says megabytes
	ReleasedAt                time.Time
}

// UUID is the update's uuid attribute:
// desktop.<major>.<minor>.<build>.<revision>.<locale>.<vendor>.<platform>.
func (r Release) UUID() string {
	return fmt.Sprintf("desktop.%d.%d.%d.%d.%s.%s.%s", r.Major, r.Minor, r.Build, r.Revision, r.Locale, r.Vendor, r.Platform)
}

// Version is the human version string, 19.4.1 or 19.4.1.2 (sub-sub only
// when set), without the build.
func (r Release) Version() string {
	if r.SubSub != 0 {
		return fmt.Sprintf("%d.%d.%d.%d", r.Major, r.Minor, r.Sub, r.SubSub)
	}
	return fmt.Sprintf("%d.%d.%d", r.Major, r.Minor, r.Sub)
}

// Line identifies the releases one installation can move between: the same
// locale, distributor and platform.
func (r Release) Line() string { return r.Locale + "." + r.Vendor + "." + r.Platform }

// Less orders releases of one line by version, then build and revision.
func Less(a, b Release) bool {
	x := [...]int{a.Major, a.Minor, a.Sub, a.SubSub, a.Build, a.Revision}
	y := [...]int{b.Major, b.Minor, b.Sub, b.SubSub, b.Build, b.Revision}
	for i := range x {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return false
}

// FileSizeMB is the FileSize value: the size in megabytes (MiB), rounded up
// so that a small file never reads as 0.
func FileSizeMB(size int64) int64 {
	const mb = 1 << 20
	if size <= 0 {
		return 0
	}
	return (size + mb - 1) / mb
}

// Filter decides whether a release may be offered. Nil offers everything.
type Filter func(Release) bool

// NoMajorUpgrade is the per-installation filter of the policy "Do not allow
// upgrading to the next major version": an installation on installedMajor
// is offered the updates of its own major version (and older lines, which
// the feed never offers as upgrades anyway), never a higher major.
func NoMajorUpgrade(installedMajor int) Filter {
	return func(r Release) bool { return r.Major <= installedMajor }
}

// All combines filters: a release is offered when every filter allows it.
func All(filters ...Filter) Filter {
	return func(r Release) bool {
		for _, f := range filters {
			if f != nil && !f(r) {
				return false
			}
		}
		return true
	}
}

// Options shape one feed.
type Options struct {
	// ProductName is the ProductName element (DefaultProductName if empty).
	ProductName string
	// Filter hides releases from the offer (not from ancestry).
	Filter Filter
	// History is every release ever published, withdrawn ones included: an
	// installation may run any of them, so each is an ancestor of the later
	// updates of its line.
	History []Release
}

// Offered returns the releases a feed offers: after the filter, the newest
// release of each line and major version, ordered by line then version.
// Older releases of the same major are not listed; they are ancestors.
func Offered(releases []Release, filter Filter) []Release {
	best := map[string]Release{}
	for _, r := range releases {
		if filter != nil && !filter(r) {
			continue
		}
		k := fmt.Sprintf("%s/%d", r.Line(), r.Major)
		if cur, ok := best[k]; !ok || Less(cur, r) {
			best[k] = r
		}
	}
	out := make([]Release, 0, len(best))
	for _, r := range best {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Line() != out[j].Line() {
			return out[i].Line() < out[j].Line()
		}
		return Less(out[i], out[j])
	})
	return out
}

// Ancestors returns the uuids of the updates that precede r in its line,
// newest first, each once.
func Ancestors(r Release, history []Release) []string {
	var prev []Release
	seen := map[string]bool{r.UUID(): true}
	for _, h := range history {
		if h.Line() != r.Line() || !Less(h, r) || seen[h.UUID()] {
			continue
		}
		seen[h.UUID()] = true
		prev = append(prev, h)
	}
	sort.Slice(prev, func(i, j int) bool { return Less(prev[j], prev[i]) })
	out := make([]string, len(prev))
	for i, p := range prev {
		out[i] = p.UUID()
	}
	return out
}

// The XML shape. Field order is element order.
type xmlFeed struct {
	XMLName xml.Name   `xml:"ParallelsUpdates"`
	Product xmlProduct `xml:"Product"`
}

type xmlProduct struct {
	ProductName   string       `xml:"ProductName"`
	UpdateEnabled int          `xml:"UpdateEnabled"`
	Versions      []xmlVersion `xml:"Version"`
}

type xmlVersion struct {
	Major                int       `xml:"Major"`
	Minor                int       `xml:"Minor"`
	SubMinor             int       `xml:"SubMinor"`
	SubSubMinor          int       `xml:"SubSubMinor"`
	StringRepresentation string    `xml:"StringRepresentation"`
	Update               xmlUpdate `xml:"Update"`
}

type xmlUpdate struct {
	UUID              string      `xml:"uuid,attr"`
	UpdateType        int         `xml:"UpdateType"`
	UpdateName        string      `xml:"UpdateName"`
	UpdateDescription string      `xml:"UpdateDescription"`
	FilePath          string      `xml:"FilePath"`
	FileSize          int64       `xml:"FileSize"`
	Status            int         `xml:"Status"`
	DateTime          string      `xml:"DateTime"`
	Chargeable        int         `xml:"Chargeable"`
	LocaleName        string      `xml:"LocaleName"`
	DistributorName   string      `xml:"DistributorName"`
	OsType            string      `xml:"OsType"`
	Ancestry          xmlAncestry `xml:"Ancestry"`
}

type xmlAncestry struct {
	Ancestors []string `xml:"Ancestor"`
}

// DefaultName is the UpdateName of a release that has none.
func DefaultName(r Release) string {
	return fmt.Sprintf("Desktop %s (build %d) is available!", r.Version(), r.Build)
}

// Generate writes the feed offering releases (see Offered) with their
// ancestry taken from opts.History.
func Generate(releases []Release, opts Options) []byte {
	name := opts.ProductName
	if name == "" {
		name = DefaultProductName
	}
	doc := xmlFeed{Product: xmlProduct{ProductName: name, UpdateEnabled: 1}}
	for _, r := range Offered(releases, opts.Filter) {
		un := r.Name
		if un == "" {
			un = DefaultName(r)
		}
		doc.Product.Versions = append(doc.Product.Versions, xmlVersion{
			Major: r.Major, Minor: r.Minor, SubMinor: r.Build, SubSubMinor: r.Revision, StringRepresentation: r.Codename,
			Update: xmlUpdate{UUID: r.UUID(), UpdateName: un, UpdateDescription: r.Notes, FilePath: r.FileURL,
				FileSize: FileSizeMB(r.Size), DateTime: r.ReleasedAt.UTC().Format(DateTimeLayout),
				LocaleName: r.Locale, DistributorName: r.Vendor, OsType: r.Platform,
				Ancestry: xmlAncestry{Ancestors: Ancestors(r, opts.History)}},
		})
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		// Only strings and ints: encoding cannot fail.
		panic(fmt.Sprintf("feed: encode: %v", err))
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}
