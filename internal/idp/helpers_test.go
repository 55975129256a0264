package idp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/account/accounttest"
	"gatehouse/internal/audit"
	"gatehouse/internal/idp"
	"gatehouse/internal/scim"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const pw = "correct-horse-battery-9"

// clock is a settable time source shared by the services under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	t        *testing.T
	db       *store.DB
	accounts *account.Service
	scim     *scim.Service
	svc      *idp.Service
	clock    *clock
}

func newEnv(t *testing.T, db *store.DB, dns *testenv.DNSServer) *env {
	t.Helper()
	c := &clock{t: time.Now().UTC().Truncate(time.Millisecond)}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	acc := &account.Service{DB: db, Config: account.DefaultConfig(), Log: log, Now: c.Now}
	sc := &scim.Service{DB: db, Now: c.Now, Logger: log, BaseURL: "https://gh.example.test/scim/v2"}
	svc := idp.New(db, idp.Config{PublicURL: "https://gh.example.test"}, sc, log)
	svc.Now = c.Now
	if dns != nil {
		svc.Resolver = dns.Resolver()
	}
	return &env{t: t, db: db, accounts: acc, scim: sc, svc: svc, clock: c}
}

var emailSeq struct {
	sync.Mutex
	n int
}

// person signs up someone new and returns them with their audit actor.
func (e *env) person(name string) (*account.Person, audit.Actor) {
	e.t.Helper()
	emailSeq.Lock()
	emailSeq.n++
	email := fmt.Sprintf("%s%d@example.org", name, emailSeq.n)
	emailSeq.Unlock()
	p := accounttest.SignUp(e.t, e.accounts, account.SignUpInput{Email: email, Password: pw, DisplayName: name})
	return p, audit.Actor{Type: audit.ActorPerson, ID: p.ID, Label: p.Email}
}

// startedAccount creates a business account whose admin started configuring.
func (e *env) startedAccount(name, provider string) (string, *account.Person, audit.Actor) {
	e.t.Helper()
	p, actor := e.person("admin")
	a, err := e.accounts.CreateBusinessAccount(context.Background(), p.ID, account.AccountInput{Name: name, Country: "DE"}, actor)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.svc.Start(context.Background(), a.ID, provider, p.ID, actor); err != nil {
		e.t.Fatal(err)
	}
	return a.ID, p, actor
}

// testCert makes a self-signed RSA certificate valid for the given window.
func testCert(t testing.TB, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pemOf(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func b64Of(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }

// auditActions lists the actions recorded for an account, oldest first.
func auditActions(t testing.TB, db *store.DB, accountID string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT action FROM audit_log WHERE account_id = ? ORDER BY at, id`, accountID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func accountInput(name string) account.AccountInput {
	return account.AccountInput{Name: name, Country: "DE"}
}
