package portal_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/portal"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var actor = audit.Actor{Type: audit.ActorPerson, ID: "test", Label: "admin@example.com"}

// clock is a fake clock both services share.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

// env is a business account with an Enterprise subscription: its primary
// key and two sublicense keys.
type env struct {
	db              *store.DB
	lic             *license.Service
	svc             *portal.Service
	clock           *clock
	admin           portal.Caller
	sub             string
	primary, k1, k2 string
}

func newPerson(t *testing.T, db *store.DB) string {
	t.Helper()
	id := ids.New()
	email := id + "@example.com"
	if _, err := db.Exec(context.Background(), `INSERT INTO people (id, email, email_norm, created_at) VALUES (?, ?, ?, ?)`, id, email, email, store.Now()); err != nil {
		t.Fatal(err)
	}
	return id
}

func addMember(t *testing.T, db *store.DB, accountID, personID, role string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO memberships (account_id, person_id, role, status, joined_at) VALUES (?, ?, ?, 'active', ?)`,
		accountID, personID, role, store.Now()); err != nil {
		t.Fatal(err)
	}
}

func newEnv(t *testing.T, db *store.DB, edition string, trial bool) *env {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	lic := license.New(db, license.Config{PublicURL: "https://gatehouse.test", Now: clk.now})
	svc := portal.New(db)
	svc.Now = clk.now
	lic.Hooks.TrialSuspended = append(lic.Hooks.TrialSuspended, svc.TrialSuspended)
	lic.Hooks.PurgeEnterprise = append(lic.Hooks.PurgeEnterprise, svc.PurgeEnterprise)
	pid := newPerson(t, db)
	aid := ids.New()
	if _, err := db.Exec(ctx, `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`, aid, "Org "+aid[len(aid)-6:], store.Now()); err != nil {
		t.Fatal(err)
	}
	addMember(t, db, aid, pid, license.RoleAdmin)
	admin := portal.Caller{PersonID: pid, AccountID: aid, Role: license.RoleAdmin}
	model := license.ModelPerDevice
	if edition == license.EditionEnterprise {
		model = license.ModelMixed
	}
	_, key, err := lic.Issue(ctx, license.IssueInput{Edition: edition, Model: model, Seats: 50, Term: license.Term{Years: 1}, Trial: trial}, license.OperatorActor("test"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := lic.RegisterKey(ctx, admin, license.RegisterInput{Key: key}, actor)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{db: db, lic: lic, svc: svc, clock: clk, admin: admin, sub: res.Subscription.ID}
	e.k1 = e.sublicense(t, "Design")
	e.k2 = e.sublicense(t, "Engineering")
	d, err := lic.Subscription(ctx, admin, e.sub)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range d.Keys {
		if k.Kind == license.KindPrimary {
			e.primary = k.ID
		}
	}
	return e
}

func (e *env) sublicense(t *testing.T, name string) string {
	t.Helper()
	k, _, err := e.lic.CreateSublicense(context.Background(), e.admin, e.sub, license.KeyInput{Name: name, Kind: "dynamic", Seats: 10}, actor)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID
}

func sha(c byte) string { return strings.Repeat(string(c), 64) }

func (e *env) image(t *testing.T, name string) *portal.Image {
	t.Helper()
	file := strings.ReplaceAll(name, " ", "-")
	img, err := e.svc.SaveImage(context.Background(), e.admin, "", portal.ImageInput{Name: name, Description: "Company build",
		AppleSilicon: portal.Arch{Enabled: true, URL: "https://files.example.com/" + file + "-arm.pvmp", SHA256: sha('a')},
		Intel:        portal.Arch{Enabled: true, URL: "https://files.example.com/" + file + "-intel.pvmp", SHA256: sha('b')}}, actor)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func (e *env) policy(t *testing.T, name, imageID string, groups ...string) *portal.Policy {
	t.Helper()
	p, err := e.svc.SavePolicy(context.Background(), e.admin, "", portal.PolicyInput{Name: name, ImageID: imageID, Groups: groups,
		GoldenImage: portal.SettingSet{On: true, Values: map[string]string{"clipboard": "disconnect", "no_usb": "true"}}}, actor)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func fieldError(t *testing.T, err error, field string) string {
	t.Helper()
	fe, ok := portal.IsFieldError(err)
	if !ok || fe.Field != field {
		t.Fatalf("error %v, want a field error on %s", err, field)
	}
	return fe.Message
}
