package license

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/account/accounttest"
	"gatehouse/internal/license/invitations"
	"gatehouse/internal/mail"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

var codePattern = regexp.MustCompile(`[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}`)

func TestInvitations(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		clk := &clock{t: time.Now().UTC()}
		s := New(db, Config{PublicURL: "https://gatehouse.test/", Now: clk.now})
		ctx := context.Background()
		a := newAccount(t, db)
		sub, primary := issueRegistered(t, s, a, IssueInput{Seats: 10})
		k, _, err := s.CreateSublicense(ctx, a, sub.ID, KeyInput{Name: "Interns", Kind: "reserved", Seats: 2}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		emails := []string{"ann@example.com", "bob@example.com", "cid@example.com", "dan@example.com"}
		in := InviteInput{KeyID: k.ID, Language: "de", ExpiresInDays: 7, Emails: emails, IdempotencyKey: "form-1"}

		// Bad input.
		bad := in
		bad.ExpiresInDays = 2
		_, err = s.SendInvitations(ctx, a, bad, testActor)
		wantField(t, err, "expires")
		bad = in
		bad.Language = "xx"
		_, err = s.SendInvitations(ctx, a, bad, testActor)
		wantField(t, err, "language")
		bad = in
		bad.Emails = []string{"ann@example.com", "oops"}
		bad.Confirm = true
		_, err = s.SendInvitations(ctx, a, bad, testActor)
		wantField(t, err, "emails")
		// Nothing is sent before confirmation; the question mentions the seats.
		_, err = s.SendInvitations(ctx, a, in, testActor)
		var ce *ConfirmationError
		if !errors.As(err, &ce) || !strings.Contains(ce.Message, "first come, first served") {
			t.Fatalf("want confirmation, got %v", err)
		}
		var queued int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&queued)
		if queued != 0 {
			t.Fatalf("%d emails queued before confirmation", queued)
		}

		in.Confirm = true
		res, err := s.SendInvitations(ctx, a, in, testActor)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Invitations) != 4 || res.Repeated {
			t.Fatalf("result %+v", res)
		}
		// A double submit sends nothing new.
		again, err := s.SendInvitations(ctx, a, in, testActor)
		if err != nil || !again.Repeated || again.BatchID != res.BatchID || len(again.Invitations) != 4 {
			t.Fatalf("double submit: %+v %v", again, err)
		}
		db.Writer().QueryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE kind = 'license_invitation'`).Scan(&queued)
		if queued != 4 {
			t.Fatalf("%d emails queued", queued)
		}
		// Codes are stored only hashed and sealed.
		var leaked int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM license_invitations WHERE code_hash = ? OR code_sealed LIKE ?`,
			res.Invitations[0].Code, "%"+res.Invitations[0].Code+"%").Scan(&leaked)
		if leaked != 0 {
			t.Fatal("code stored in clear")
		}

		// Delivery through SMTP, surviving a temporary failure.
		sink := testenv.SMTP(t)
		sender := &mail.Sender{DB: db, SMTPURL: sink.URL, From: "Gatehouse <no-reply@gatehouse.test>", Backoff: time.Millisecond}
		sink.FailNext(1)
		for i := 0; i < 5 && len(sink.Messages()) < 4; i++ {
			if err := sender.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if sink.Failed() != 1 {
			t.Fatalf("FailNext not exercised: %d", sink.Failed())
		}
		codes := map[string]string{}
		for _, e := range emails {
			m := sink.WaitFor(t, func(m testenv.Email) bool { return m.To[0] == e }, 5*time.Second)
			code := codePattern.FindString(m.Text)
			if code == "" || !strings.Contains(m.Text, "https://gatehouse.test/download?code="+code) || !strings.Contains(m.Subject, "Einladung") {
				t.Fatalf("email to %s: %q\n%s", e, m.Subject, m.Text)
			}
			if strings.Contains(m.Text, primary) || strings.Contains(m.Text, k.Last) {
				t.Fatal("the email shows the real key")
			}
			codes[e] = code
		}
		invs, err := s.Invitations(ctx, a, InvitationFilter{KeyID: k.ID})
		if err != nil || len(invs) != 4 {
			t.Fatalf("invitations %v %v", invs, err)
		}
		for _, inv := range invs {
			if inv.Code != codes[inv.Email] || inv.Status != InvitationPending || inv.Delivery != "sent" {
				t.Fatalf("invitation %+v (email code %s)", inv, codes[inv.Email])
			}
		}

		// Activation by code: limited to its key, single use, one computer.
		dev := device(1)
		act, err := s.Activate(ctx, ActivateInput{Code: strings.ToLower(codes["ann@example.com"]), Device: dev})
		if err != nil {
			t.Fatal(err)
		}
		if act.Claims.KeyID != k.ID {
			t.Fatalf("activated on %s, want %s", act.Claims.KeyID, k.ID)
		}
		// The same computer may use its code again (reinstall): same seat.
		re, err := s.Activate(ctx, ActivateInput{Code: codes["ann@example.com"], Device: dev})
		if err != nil || !re.Reactivated {
			t.Fatalf("reuse on the same computer: %+v %v", re, err)
		}
		_, err = s.Activate(ctx, ActivateInput{Code: codes["ann@example.com"], Device: device(2)})
		wantCode(t, err, CodeCodeUsed)
		// More invitations than seats: first come, first served.
		if _, err := s.Activate(ctx, ActivateInput{Code: codes["bob@example.com"], Device: device(3)}); err != nil {
			t.Fatal(err)
		}
		_, err = s.Activate(ctx, ActivateInput{Code: codes["cid@example.com"], Device: device(4)})
		wantCode(t, err, CodeNoFreeSeat)
		// A refused activation did not use up the code.
		invs, _ = s.Invitations(ctx, a, InvitationFilter{Query: "cid@"})
		if len(invs) != 1 || invs[0].Status != InvitationPending {
			t.Fatalf("cid after refusal: %+v", invs)
		}
		// Revoked.
		n, err := s.RevokeInvitations(ctx, a, []string{invs[0].ID, invs[0].ID, "nope"}, testActor)
		if err != nil || n != 1 {
			t.Fatalf("revoke: %d %v", n, err)
		}
		_, err = s.Activate(ctx, ActivateInput{Code: codes["cid@example.com"], Device: device(4)})
		wantCode(t, err, CodeCodeRevoked)
		if _, err := s.ResendInvitation(ctx, a, invs[0].ID, testActor); err == nil {
			t.Fatal("resent a revoked invitation")
		}
		// Expired, then resent with the same code and a new expiry.
		clk.add(8 * 24 * time.Hour)
		_, err = s.Activate(ctx, ActivateInput{Code: codes["dan@example.com"], Device: device(5)})
		wantCode(t, err, CodeCodeExpired)
		_, err = s.Activate(ctx, ActivateInput{Code: "ABCDE-FGHJK-LMNPQ-RSTUV", Device: device(5)})
		wantCode(t, err, CodeInvalidCode)
		_, err = s.Activate(ctx, ActivateInput{Code: "ABCDE", Device: device(5)})
		wantCode(t, err, CodeInvalidCode)
		dan, _ := s.Invitations(ctx, a, InvitationFilter{Query: "dan@"})
		if dan[0].Status != InvitationExpired {
			t.Fatalf("dan %+v", dan[0])
		}
		resent, err := s.ResendInvitation(ctx, a, dan[0].ID, testActor)
		if err != nil || resent.Code != codes["dan@example.com"] {
			t.Fatalf("resend %+v %v", resent, err)
		}
		// Free a seat, then dan's renewed code works.
		if _, err := s.DeactivateComputers(ctx, a, []string{act.ActivationID}, testActor); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Activate(ctx, ActivateInput{Code: codes["dan@example.com"], Device: device(5)}); err != nil {
			t.Fatalf("after resend: %v", err)
		}
		checkInvariants(t, db, sub.ID)

		// Download Invitations.
		all, err := s.Invitations(ctx, a, InvitationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteInvitationsCSV(&buf, all); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil || len(recs) != 5 || strings.Join(recs[0][:5], ",") != "email,code,download_url,expires_at,status" {
			t.Fatalf("csv %v %v", recs, err)
		}
		status := map[string]string{}
		for _, r := range recs[1:] {
			status[r[0]] = r[4]
			if r[1] != codes[r[0]] || !strings.HasSuffix(r[2], "code="+r[1]) {
				t.Fatalf("csv row %v", r)
			}
		}
		if status["ann@example.com"] != "used" || status["bob@example.com"] != "used" || status["cid@example.com"] != "revoked" || status["dan@example.com"] != "used" {
			t.Fatalf("statuses %v", status)
		}
		// Another account sees none of it.
		b := newAccount(t, db)
		if invs, err := s.Invitations(ctx, b, InvitationFilter{}); err != nil || len(invs) != 0 {
			t.Fatalf("foreign invitations %v %v", invs, err)
		}
		if _, err := s.SendInvitations(ctx, b, InviteInput{KeyID: k.ID, ExpiresInDays: 3, Emails: []string{"x@example.com"}, Confirm: true}, testActor); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("foreign send: %v", err)
		}
		// Deleting the key revokes what is pending.
		more, err := s.SendInvitations(ctx, a, InviteInput{KeyID: k.ID, Language: "en", ExpiresInDays: 3, Emails: []string{"eve@example.com"}, Confirm: true}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteKey(ctx, a, k.ID, true, testActor); err != nil {
			t.Fatal(err)
		}
		_, err = s.Activate(ctx, ActivateInput{Code: more.Invitations[0].Code, Device: device(6)})
		if err == nil {
			t.Fatal("code of a deleted key works")
		}
	})
}

func TestRegisteredComputers(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		s := newService(db)
		ctx := context.Background()
		a := newAccount(t, db)
		sub, primary := issueRegistered(t, s, a, IssueInput{Seats: 10})
		_, dynKey, err := s.CreateSublicense(ctx, a, sub.ID, KeyInput{Name: "Lab", Kind: "dynamic", Seats: 5}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		names := []string{"=cmd|' /C calc'!A0", "Ann's MacBook Pro", "Build Mac mini", "Lab iMac 1", "Lab iMac 2"}
		var acts []*Activation
		for i, n := range names {
			d := device(i)
			d.ComputerName = n
			key := primary
			if strings.HasPrefix(n, "Lab") {
				key = dynKey
			}
			act, err := s.Activate(ctx, ActivateInput{Key: key, Device: d})
			if err != nil {
				t.Fatal(err)
			}
			acts = append(acts, act)
		}
		list, total, err := s.Computers(ctx, a, ComputerFilter{SubscriptionID: sub.ID})
		if err != nil || total != 5 || len(list) != 5 {
			t.Fatalf("list %d %v", total, err)
		}
		c := list[0]
		if c.Method != MethodKey || c.Status != "active" || c.ActivatedAt.IsZero() || c.LastCheckAt.IsZero() || c.AppVersion == "" || c.MacOSUser != "ann" {
			t.Fatalf("computer %+v", c)
		}
		found, total, _ := s.Computers(ctx, a, ComputerFilter{Query: "lab imac"})
		if total != 2 || len(found) != 2 {
			t.Fatalf("search: %d", total)
		}
		if _, total, _ := s.Computers(ctx, a, ComputerFilter{Query: "100%_"}); total != 0 {
			t.Fatalf("LIKE wildcards not escaped: %d", total)
		}
		// Multi-select deactivate: the seats return at once.
		n, err := s.DeactivateComputers(ctx, a, []string{found[0].ID, found[1].ID, found[1].ID, "garbage"}, testActor)
		if err != nil || n != 2 {
			t.Fatalf("deactivate: %d %v", n, err)
		}
		checkInvariants(t, db, sub.ID)
		d, _ := s.Subscription(ctx, a, sub.ID)
		if d.Used != 3 {
			t.Fatalf("used %d after deactivation", d.Used)
		}
		if n, _ := s.DeactivateComputers(ctx, a, []string{found[0].ID}, testActor); n != 0 {
			t.Fatalf("deactivated twice: %d", n)
		}
		// The device learns it on its next check.
		for _, act := range acts {
			if act.ActivationID == found[0].ID {
				_, err := s.Check(ctx, act.Credential, CheckInput{})
				wantCode(t, err, CodeDeactivated)
			}
		}
		all, total, _ := s.Computers(ctx, a, ComputerFilter{IncludeDeactivated: true})
		if total != 5 {
			t.Fatalf("with deactivated: %d", total)
		}
		// Another account cannot see or deactivate them.
		b := newAccount(t, db)
		if l, total, _ := s.Computers(ctx, b, ComputerFilter{}); total != 0 || len(l) != 0 {
			t.Fatal("foreign computers visible")
		}
		if n, _ := s.DeactivateComputers(ctx, b, []string{list[0].ID}, testActor); n != 0 {
			t.Fatal("foreign deactivation")
		}
		// A plain user sees nothing.
		u := Caller{PersonID: newPerson(t, db), AccountID: a.AccountID, Role: RoleUser}
		if _, _, err := s.Computers(ctx, u, ComputerFilter{}); !errors.Is(err, ErrForbidden) {
			t.Fatalf("user: %v", err)
		}
		var buf bytes.Buffer
		if err := WriteComputersCSV(&buf, all); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil || len(recs) != 6 || recs[0][0] != "computer_name" {
			t.Fatalf("csv %v %v", recs, err)
		}
		for _, r := range recs[1:] {
			if strings.HasPrefix(r[0], "=") {
				t.Fatalf("formula not defused: %q", r[0])
			}
			if strings.Contains(strings.Join(r, ","), primary) {
				t.Fatal("csv holds the key")
			}
		}
	})
}

func TestRetention(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		clk := &clock{t: time.Now().UTC()}
		s := New(db, Config{Now: clk.now})
		ctx := context.Background()
		a := newAccount(t, db)
		ent, key := issueRegistered(t, s, a, IssueInput{Edition: "enterprise", Model: "mixed", Seats: 5, Term: Term{Days: 30}, Trial: true})
		biz, _ := issueRegistered(t, s, a, IssueInput{Seats: 5, Term: Term{Days: 30}})
		act, err := s.Activate(ctx, ActivateInput{Key: key, Device: device(0)})
		if err != nil {
			t.Fatal(err)
		}
		var purged []string
		s.Hooks.PurgeEnterprise = append(s.Hooks.PurgeEnterprise, func(ctx context.Context, tx *store.Tx, accountID, subID string) error {
			purged = append(purged, subID)
			return nil
		})
		clk.add(31 * 24 * time.Hour)
		_, err = s.Check(ctx, act.Credential, CheckInput{})
		wantCode(t, err, CodeExpired)
		rep, err := s.RunRetention(ctx)
		if err != nil || rep.Ended != 2 || len(rep.Purged) != 0 {
			t.Fatalf("first run %+v %v", rep, err)
		}
		// After the retention period the Enterprise settings are purged (once).
		clk.add(91 * 24 * time.Hour)
		rep, err = s.RunRetention(ctx)
		if err != nil || len(rep.Purged) != 1 || rep.Purged[0] != ent.ID || len(purged) != 1 {
			t.Fatalf("second run %+v %v hooks %v", rep, err, purged)
		}
		rep, _ = s.RunRetention(ctx)
		if len(rep.Purged) != 0 {
			t.Fatal("purged twice")
		}
		got, _ := s.FindSubscription(ctx, ent.ID)
		if got.State(clk.now()) != StatePurged {
			t.Fatalf("state %s", got.State(clk.now()))
		}
		if b, _ := s.FindSubscription(ctx, biz.ID); !b.PurgedAt.IsZero() {
			t.Fatal("business subscription purged")
		}
		if _, err := s.Extend(ctx, ent.ID, ExtendInput{Term: Term{Years: 1}}, OperatorActor("t")); err == nil {
			t.Fatal("extended a purged subscription")
		}
		// The job wrapper has the lease name.
		if j := s.RetentionJob(0); j.Name != RetentionJobName || j.Interval != time.Hour {
			t.Fatalf("job %+v", j)
		}
	})
}

// TestInvitationListHostileAddresses: every hostile form is a line error or
// its canonical address (the one function's result); the forms of one
// address are duplicates of each other; display-name forms get the
// list's own message.
func TestInvitationListHostileAddresses(t *testing.T) {
	var text strings.Builder
	for _, c := range accounttest.Hostile {
		text.WriteString(strings.NewReplacer("\n", " ", ",", " ", ";", " ").Replace(c.Raw) + "\n")
	}
	p := invitations.ParseAddressList(text.String())
	seen := map[string]bool{}
	for _, v := range p.Valid {
		c, err := account.CanonicalEmail(v)
		if err != nil || c != v || seen[c] {
			t.Errorf("valid %q: canonical %q, %v, duplicate %v", v, c, err, seen[c])
		}
		seen[c] = true
	}
	for _, c := range accounttest.Hostile {
		if c.Want != "" && !seen[c.Want] && !strings.ContainsAny(c.Raw, "\n,;") {
			t.Errorf("%s: %q missing from the valid addresses", c.Name, c.Raw)
		}
	}
	for _, e := range p.Errors {
		if strings.Contains(e.Value, "<") && !strings.Contains(e.Message, "without a name") {
			t.Errorf("line %d %q: %s", e.Line, e.Value, e.Message)
		}
	}
}
