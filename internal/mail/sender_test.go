package mail

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func enqueue(t *testing.T, db *store.DB, to, subject string) string {
	t.Helper()
	var id string
	err := db.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		id, err = Enqueue(context.Background(), tx, Message{Kind: "test", To: to, Subject: subject, Text: "Hello " + to, HTML: "<p>Hello</p>"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

type row struct {
	status    string
	attempts  int
	lastError string
	next      store.Time
}

func outboxRow(t *testing.T, db *store.DB, id string) row {
	t.Helper()
	var r row
	if err := db.Writer().QueryRow(context.Background(), `SELECT status, attempts, last_error, next_attempt_at FROM outbox WHERE id = ?`, id).
		Scan(&r.status, &r.attempts, &r.lastError, &r.next); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSenderDeliversAndRetries(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		sink := testenv.SMTP(t)
		// The sender's clock runs a little ahead so that messages queued
		// "now" by the test are due.
		now := time.Now().Add(2 * time.Second)
		s := &Sender{DB: db, SMTPURL: sink.URL, From: "Gatehouse <no-reply@gatehouse.test>", Backoff: time.Minute, MaxAttempts: 3,
			Now: func() time.Time { return now }}
		ctx := context.Background()

		a := enqueue(t, db, "ann@example.com", "First")
		sink.FailNext(1)
		if err := s.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		r := outboxRow(t, db, a)
		if r.status != "pending" || r.attempts != 1 || !strings.Contains(r.lastError, "451") {
			t.Fatalf("after a temporary failure: %+v", r)
		}
		if want := now.Add(time.Minute); r.next.Sub(want).Abs() > time.Second {
			t.Fatalf("next attempt %v, want %v", r.next, want)
		}
		// Not due yet: nothing happens.
		if err := s.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if len(sink.Messages()) != 0 || outboxRow(t, db, a).attempts != 1 {
			t.Fatal("retried before its time")
		}
		now = now.Add(61 * time.Second)
		if err := s.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		m := sink.WaitFor(t, func(e testenv.Email) bool { return e.Subject == "First" }, 5*time.Second)
		if m.To[0] != "ann@example.com" || !strings.Contains(m.Text, "Hello ann@example.com") || !strings.Contains(m.HTML, "<p>Hello</p>") {
			t.Fatalf("delivered %+v", m)
		}
		if r := outboxRow(t, db, a); r.status != "sent" || r.attempts != 2 || r.lastError != "" {
			t.Fatalf("after delivery: %+v", r)
		}
		// Back-off doubles, and after MaxAttempts the message is failed.
		b := enqueue(t, db, "bob@example.com", "Second")
		sink.FailNext(10)
		var delays []time.Duration
		for i := 0; i < 3; i++ {
			if err := s.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			r := outboxRow(t, db, b)
			delays = append(delays, r.next.Sub(now).Round(time.Second))
			now = r.next.Time.Add(time.Second)
		}
		r = outboxRow(t, db, b)
		if r.status != "failed" || r.attempts != 3 || r.lastError == "" {
			t.Fatalf("after 3 failures: %+v", r)
		}
		if delays[0] != time.Minute || delays[1] != 2*time.Minute {
			t.Fatalf("back-off %v", delays)
		}
		// A failed message is no longer tried; others are.
		c := enqueue(t, db, "cid@example.com", "Third")
		sink.FailNext(0)
		if err := s.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		sink.WaitFor(t, func(e testenv.Email) bool { return e.Subject == "Third" }, 5*time.Second)
		if outboxRow(t, db, c).status != "sent" || outboxRow(t, db, b).status != "failed" {
			t.Fatal("wrong statuses")
		}
	})
}

func TestSenderWithoutSMTPKeepsOutbox(t *testing.T) {
	db := testenv.SQLite(t)
	s := &Sender{DB: db, From: "no-reply@gatehouse.test"}
	id := enqueue(t, db, "ann@example.com", "Kept")
	if err := s.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := outboxRow(t, db, id); r.status != "pending" || r.attempts != 0 {
		t.Fatalf("%+v", r)
	}
	msgs, err := List(context.Background(), db, 10)
	if err != nil || len(msgs) != 1 || msgs[0].Subject != "Kept" {
		t.Fatalf("outbox list %+v %v", msgs, err)
	}
}

func TestSenderUnreachableServer(t *testing.T) {
	db := testenv.SQLite(t)
	port := testenv.FreePort(t)
	s := &Sender{DB: db, SMTPURL: "smtp://user:secret@127.0.0.1:" + strconv.Itoa(port), From: "no-reply@gatehouse.test", Timeout: 2 * time.Second}
	id := enqueue(t, db, "ann@example.com", "Unreachable")
	if err := s.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := outboxRow(t, db, id)
	if r.status != "pending" || r.attempts != 1 || r.lastError == "" || strings.Contains(r.lastError, "secret") {
		t.Fatalf("%+v", r)
	}
}

func TestSenderAuth(t *testing.T) {
	db := testenv.SQLite(t)
	sink := testenv.SMTP(t)
	u := strings.Replace(sink.URL, "smtp://", "smtp://mailer:pa%40ss@", 1)
	s := &Sender{DB: db, SMTPURL: u, From: "no-reply@gatehouse.test"}
	enqueue(t, db, "ann@example.com", "Authenticated")
	if err := s.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.WaitFor(t, func(e testenv.Email) bool { return e.Subject == "Authenticated" }, 5*time.Second)
}

func TestParseSMTPURL(t *testing.T) {
	good := map[string]smtpConfig{
		"smtp://mail.example.com":                  {host: "mail.example.com", port: 25},
		"smtp://u:p@mail.example.com:587":          {host: "mail.example.com", port: 587, user: "u", pass: "p"},
		"smtps://mail.example.com":                 {host: "mail.example.com", port: 465, ssl: true},
		"smtp://127.0.0.1:2525?tls=none":           {host: "127.0.0.1", port: 2525, authNoEnc: true},
		"smtp://mail.example.com:587?tls=required": {host: "mail.example.com", port: 587},
	}
	for in, want := range good {
		got, err := parseSMTPURL(in)
		if err != nil || got.host != want.host || got.port != want.port || got.user != want.user || got.pass != want.pass || got.ssl != want.ssl || got.authNoEnc != want.authNoEnc {
			t.Errorf("parseSMTPURL(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"http://x", "smtp://", "smtp://h:99999", "smtp://h?tls=maybe", "::"} {
		if _, err := parseSMTPURL(in); err == nil {
			t.Errorf("parseSMTPURL(%q) accepted", in)
		}
	}
}
