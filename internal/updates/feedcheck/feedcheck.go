// Package feedcheck checks generated update feeds in tests with tools that
// share no code with the generator: xmllint validates against the schema,
// and Python's xml.etree reads every value back and compares it with what
// the test expects (computed from the releases, not from the XML).
package feedcheck

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"gatehouse/internal/updates/feed"
)

// Version is what one offered update must say.
type Version struct {
	UUID       string   `json:"uuid"`
	Major      int      `json:"major"`
	Minor      int      `json:"minor"`
	Build      int      `json:"build"`
	Revision   int      `json:"revision"`
	Codename   string   `json:"codename"`
	Name       string   `json:"name"`
	Notes      string   `json:"notes"`
	FilePath   string   `json:"file_path"`
	FileSizeMB int64    `json:"file_size_mb"`
	DateTime   string   `json:"date_time"`
	Locale     string   `json:"locale"`
	Vendor     string   `json:"vendor"`
	Platform   string   `json:"platform"`
	Ancestors  []string `json:"ancestors"`
}

// Expect is the whole feed.
type Expect struct {
	ProductName string    `json:"product_name"`
	Versions    []Version `json:"versions"`
}

// VersionOf states what a release must look like in a feed, independently of
// the generator's code paths: fields copied from the release, the size
// rounded up to whole MiB, the time in UTC as yyyy-mm-dd hh:mm:ss.
func VersionOf(r feed.Release, ancestors ...string) Version {
	name := r.Name
	if name == "" {
		name = feed.DefaultName(r)
	}
	mb := r.Size / (1 << 20)
	if r.Size%(1<<20) != 0 {
		mb++
	}
	if ancestors == nil {
		ancestors = []string{}
	}
	return Version{UUID: r.UUID(), Major: r.Major, Minor: r.Minor, Build: r.Build, Revision: r.Revision, Codename: r.Codename,
		Name: name, Notes: r.Notes, FilePath: r.FileURL, FileSizeMB: mb, DateTime: r.ReleasedAt.UTC().Format("2006-01-02 15:04:05"),
		Locale: r.Locale, Vendor: r.Vendor, Platform: r.Platform, Ancestors: ancestors}
}

func peerMissing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("GATEHOUSE_REQUIRE_PEERS") == "1" {
		t.Fatalf("required test peer missing (GATEHOUSE_REQUIRE_PEERS=1): %s", msg)
	}
	t.Skipf("test peer missing: %s", msg)
}

// Python is the interpreter the independent parser runs on (Debian's).
const Python = "/usr/bin/python3"

// Check validates doc against the schema with xmllint and has Python read
// it back and compare it with want. Either tool missing skips the test
// (fails under GATEHOUSE_REQUIRE_PEERS=1).
func Check(t testing.TB, doc []byte, want Expect) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		peerMissing(t, "xmllint (Debian package libxml2-utils)")
	}
	if _, err := os.Stat(Python); err != nil {
		peerMissing(t, Python)
	}
	dir := t.TempDir()
	xsd := filepath.Join(dir, "feed.xsd")
	path := filepath.Join(dir, "feed.xml")
	wantPath := filepath.Join(dir, "want.json")
	if want.ProductName == "" {
		want.ProductName = feed.DefaultProductName
	}
	if want.Versions == nil {
		want.Versions = []Version{}
	}
	wj, _ := json.Marshal(want)
	for p, b := range map[string][]byte{xsd: feed.Schema(), path: doc, wantPath: wj} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(xmllint, "--noout", "--nonet", "--schema", xsd, path).CombinedOutput()
	if err != nil {
		t.Fatalf("xmllint --schema refused the feed: %v\n%s\nfeed:\n%s", err, out, doc)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(Python, "-c", pythonCheck, path, wantPath)
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("python xml.etree check failed: %v\n%s%s\nfeed:\n%s", err, out, stderr.String(), doc)
	}
}

// pythonCheck reads the feed with xml.etree and compares each value with
// the expectation, element order included.
const pythonCheck = `
import json, sys, datetime
import xml.etree.ElementTree as ET

feed_path, want_path = sys.argv[1], sys.argv[2]
raw = open(feed_path, 'rb').read()
if b'<!DOCTYPE' in raw:
    sys.exit('feed carries a DTD')
root = ET.fromstring(raw)
want = json.load(open(want_path))
errors = []
def expect(cond, msg):
    if not cond:
        errors.append(msg)

def text(el):
    return el.text or ''

expect(root.tag == 'ParallelsUpdates', 'root is %r' % root.tag)
products = list(root)
expect([p.tag for p in products] == ['Product'], 'root children %r' % [p.tag for p in products])
product = products[0]
tags = [c.tag for c in product]
expect(tags[:2] == ['ProductName', 'UpdateEnabled'] and all(t == 'Version' for t in tags[2:]), 'Product children %r' % tags)
expect(text(product.find('ProductName')) == want['product_name'], 'ProductName %r' % text(product.find('ProductName')))
expect(text(product.find('UpdateEnabled')) == '1', 'UpdateEnabled %r' % text(product.find('UpdateEnabled')))
versions = product.findall('Version')
expect(len(versions) == len(want['versions']), 'feed offers %d versions, want %d: %r' % (len(versions), len(want['versions']), [v.find('Update').get('uuid') for v in versions]))
VERSION_TAGS = ['Major', 'Minor', 'SubMinor', 'SubSubMinor', 'StringRepresentation', 'Update']
UPDATE_TAGS = ['UpdateType', 'UpdateName', 'UpdateDescription', 'FilePath', 'FileSize', 'Status', 'DateTime',
               'Chargeable', 'LocaleName', 'DistributorName', 'OsType', 'Ancestry']
for v, w in zip(versions, want['versions']):
    expect([c.tag for c in v] == VERSION_TAGS, 'Version children %r' % [c.tag for c in v])
    u = v.find('Update')
    expect([c.tag for c in u] == UPDATE_TAGS, 'Update children %r' % [c.tag for c in u])
    uuid = u.get('uuid')
    parts = uuid.split('.')
    expect(len(parts) == 8 and parts[0] == 'desktop', 'uuid layout %r' % uuid)
    # The uuid must agree with the elements it summarises.
    built = 'desktop.%s.%s.%s.%s.%s.%s.%s' % (text(v.find('Major')), text(v.find('Minor')), text(v.find('SubMinor')),
        text(v.find('SubSubMinor')), text(u.find('LocaleName')), text(u.find('DistributorName')), text(u.find('OsType')))
    expect(uuid == built, 'uuid %r disagrees with its elements %r' % (uuid, built))
    expect(uuid == w['uuid'], 'uuid %r, want %r' % (uuid, w['uuid']))
    for tag, key in [('Major', 'major'), ('Minor', 'minor'), ('SubMinor', 'build'), ('SubSubMinor', 'revision')]:
        expect(int(text(v.find(tag))) == w[key], '%s %s: %r, want %r' % (uuid, tag, text(v.find(tag)), w[key]))
    expect(text(v.find('StringRepresentation')) == w['codename'], '%s StringRepresentation %r' % (uuid, text(v.find('StringRepresentation'))))
    for tag in ['UpdateType', 'Status', 'Chargeable']:
        expect(text(u.find(tag)) == '0', '%s %s %r, want 0' % (uuid, tag, text(u.find(tag))))
    for tag, key in [('UpdateName', 'name'), ('UpdateDescription', 'notes'), ('FilePath', 'file_path'),
                     ('LocaleName', 'locale'), ('DistributorName', 'vendor'), ('OsType', 'platform')]:
        expect(text(u.find(tag)) == w[key], '%s %s %r, want %r' % (uuid, tag, text(u.find(tag)), w[key]))
    expect(int(text(u.find('FileSize'))) == w['file_size_mb'], '%s FileSize %r MB, want %r' % (uuid, text(u.find('FileSize')), w['file_size_mb']))
    dt = text(u.find('DateTime'))
    try:
        parsed = datetime.datetime.strptime(dt, '%Y-%m-%d %H:%M:%S')
        expect(parsed.strftime('%Y-%m-%d %H:%M:%S') == dt, '%s DateTime %r not zero-padded' % (uuid, dt))
    except ValueError as e:
        errors.append('%s DateTime %r: %s' % (uuid, dt, e))
    expect(dt == w['date_time'], '%s DateTime %r, want %r' % (uuid, dt, w['date_time']))
    anc = [text(a) for a in u.find('Ancestry')]
    expect(all(a.tag == 'Ancestor' for a in u.find('Ancestry')), '%s Ancestry children' % uuid)
    expect(anc == w['ancestors'], '%s Ancestry %r, want %r' % (uuid, anc, w['ancestors']))
    expect(len(set(anc)) == len(anc), '%s repeats an Ancestor' % uuid)
if errors:
    print('\n'.join(errors))
    sys.exit(1)
`
