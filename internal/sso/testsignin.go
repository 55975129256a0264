package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/jobs"
	"gatehouse/internal/saml"
	"gatehouse/internal/store"
)

// A test sign-in lets an admin try the IdP integration before (and while)
// it is active (issue 13): they sign in at the IdP in a new tab; the answer
// goes through the same validator (saml.ConsumeResponse) and the same
// linking decision (evaluate, not applied) as a real sign-in; nobody is
// signed in and nothing is created. The result is kept for the admin who
// started the test until it expires.
//
// The AuthnRequest carries saml.PurposeTest, fixed server-side when it is
// stored, so an answer to a test can only ever produce a test result and an
// answer to a real sign-in never one; the replay cache refuses any answer a
// second time, whichever flow it was first used in.

// States of a test sign-in.
const (
	TestPending  = "pending"
	TestAccepted = "accepted"
	TestRefused  = "refused"
)

// TestTTL is how long a test sign-in and its result live.
const TestTTL = time.Hour

// ReasonTestFinished: an answer arrived for a test sign-in that has already
// finished or expired.
const ReasonTestFinished = "test_finished"

// errTestFinished: the test sign-in stopped waiting while its answer was
// being checked (a second answer, at the same moment).
var errTestFinished = errors.New("the test sign-in is no longer waiting")

// testFinished is the refusal of an answer to a test sign-in that is no
// longer waiting for one.
func testFinished(a *saml.Assertion, testID string) *Error {
	return &Error{Code: ReasonTestFinished,
		Message: "This test sign-in has already finished or has expired. Start a new test from IdP Integration.",
		Detail:  fmt.Sprintf("an answer to AuthnRequest %q arrived for test sign-in %q, which is no longer waiting", a.RequestID, testID)}
}

// ErrTestExpired is returned for a test sign-in past TestTTL.
var ErrTestExpired = errors.New("the test sign-in has expired")

// SeatPool is where a person would take their per-user Desktop seat (see
// SeatPoolFunc).
type SeatPool struct {
	KeyName string
	Kind    string // primary, reserved or dynamic
	// Groups are the person's groups mapped to the key that chose it;
	// none: the key is the default pool.
	Groups []SeatPoolGroup
	// Conflict names every key the person's groups map to when more than one.
	Conflict []string
	// Code and Message: no seat could be taken at all.
	Code, Message string
}

// SeatPoolGroup is a group mapped to a key (its User Groups tab).
type SeatPoolGroup struct {
	UUID string // as the IdP sends it
	Name string // display name
}

// SeatPoolFunc previews the per-user seat pool of a person with groups,
// reading only (the SSO activation feature provides it).
type SeatPoolFunc func(ctx context.Context, accountID string, groups []string) (*SeatPool, error)

// TestSignIn is one test sign-in.
type TestSignIn struct {
	ID        string
	AccountID string
	PersonID  string // the admin who started it: only they see the result
	State     string
	CreatedAt store.Time
	// FinishedAt is when the IdP's answer arrived (zero while pending).
	FinishedAt store.Time
	ExpiresAt  store.Time
	Result     TestResult
}

// TestResult is what a test sign-in found out.
type TestResult struct {
	// Active: the integration was active when the answer arrived.
	Active bool `json:"active"`
	// Verified: the validator accepted the answer; what follows came from
	// the element the IdP's signature covers.
	Verified      bool             `json:"verified"`
	Issuer        string           `json:"issuer,omitempty"`
	NameID        string           `json:"name_id,omitempty"`
	NameIDFormat  string           `json:"name_id_format,omitempty"`
	Attributes    []saml.Attribute `json:"attributes,omitempty"`
	GroupsOverage bool             `json:"groups_overage,omitempty"`

	// Code, Detail and Reference describe a refusal.
	Code      string `json:"code,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Reference string `json:"reference,omitempty"`

	// User is the linking decision (nil when the validator refused).
	User *TestUser `json:"user,omitempty"`
	// Groups are the person's groups as Gatehouse reads them (the groups
	// claim, or the SCIM memberships when the claim is missing or cut).
	Groups         []TestGroup `json:"groups,omitempty"`
	GroupsFromSCIM bool        `json:"groups_from_scim,omitempty"`
	Admin          bool        `json:"admin,omitempty"`
	DesktopUser    bool        `json:"desktop_user,omitempty"`
	BackupLogin    bool        `json:"backup_login,omitempty"`
	// SeatPool is where a Desktop user would take their seat.
	SeatPool *SeatPool `json:"seat_pool,omitempty"`
}

// Who the answer maps to (TestUser.Outcome).
const (
	TestUserExisting = "existing"
	TestUserNew      = "new"
	TestUserRefused  = "refused"
)

// TestUser is the Gatehouse user an answer maps to.
type TestUser struct {
	Outcome     string `json:"outcome"`
	PersonID    string `json:"person_id,omitempty"`
	Email       string `json:"email,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
	// Login is the name attribute (else the NameID); StableID the IdP's
	// stable identifier of the person, when it sent one.
	Login    string `json:"login,omitempty"`
	StableID string `json:"stable_id,omitempty"`
	SCIMUser string `json:"scim_user,omitempty"`
	Link     string `json:"link,omitempty"` // Link… constant
	// FirstLink and EndsSessions: see Decision.
	FirstLink    bool   `json:"first_link,omitempty"`
	EndsSessions bool   `json:"ends_sessions,omitempty"`
	Role         string `json:"role,omitempty"` // current membership role, "" when not a member
	NewRole      string `json:"new_role,omitempty"`
}

// TestGroup is one group of the person and what Gatehouse maps it to.
type TestGroup struct {
	Value        string `json:"value"`
	Admins       bool   `json:"admins,omitempty"`
	DesktopUsers bool   `json:"desktop_users,omitempty"`
}

// StartTest starts a test sign-in of accountID's IdP for the admin
// personID. binding is the random value the caller also sets as the
// browser's binding cookie. It returns where to send the browser and the
// test's id.
func (s *Service) StartTest(ctx context.Context, accountID, personID, binding string, actor audit.Actor) (*Start, string, error) {
	in, err := s.Directory.Integration(ctx, accountID)
	if errors.Is(err, ErrIdPIncomplete) {
		return nil, "", &Error{Code: ReasonIdPIncomplete,
			Message: "Finish step 4 (the identity provider's SAML settings) before testing the sign-in.",
			Detail:  err.Error()}
	}
	if err != nil {
		return nil, "", err
	}
	testID := ids.New()
	st, err := s.startAt(ctx, accountID, in, saml.PurposeTest, testID, binding)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sso_test_sign_ins (id, account_id, person_id, request_id, browser_binding, state, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, testID, accountID, personID, st.RequestID, ids.Hash(binding), TestPending,
			store.At(now), store.At(now.Add(TestTTL))); err != nil {
			return fmt.Errorf("start test sign-in: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "idp.test_sign_in_started",
			TargetType: "idp_test_sign_in", TargetID: testID, After: map[string]any{"active": in.Active}})
	})
	if err != nil {
		return nil, "", err
	}
	return st, testID, nil
}

// TestSignIn returns a test sign-in for the admin who started it:
// store.ErrNotFound for anyone else (or another account), ErrTestExpired
// once it has expired.
func (s *Service) TestSignIn(ctx context.Context, accountID, personID, id string) (*TestSignIn, error) {
	if !ids.Valid(id) {
		return nil, store.ErrNotFound
	}
	t, err := scanTest(s.DB.QueryRow(ctx, `SELECT `+testColumns+` FROM sso_test_sign_ins WHERE id = ? AND account_id = ?`, id, accountID))
	if err != nil {
		return nil, err
	}
	if t.PersonID != personID {
		return nil, store.ErrNotFound
	}
	if !s.now().Before(t.ExpiresAt.Time) {
		return nil, ErrTestExpired
	}
	return t, nil
}

const testColumns = `id, account_id, person_id, state, result_json, created_at, finished_at, expires_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanTest(row rowScanner) (*TestSignIn, error) {
	var t TestSignIn
	var raw string
	if err := row.Scan(&t.ID, &t.AccountID, &t.PersonID, &t.State, &raw, &t.CreatedAt, &t.FinishedAt, &t.ExpiresAt); err != nil {
		return nil, store.NotFound(err)
	}
	if err := json.Unmarshal([]byte(raw), &t.Result); err != nil {
		return nil, fmt.Errorf("test sign-in %s: result: %w", t.ID, err)
	}
	return &t, nil
}

// pendingTest is the part of a test sign-in that finishing it needs.
type pendingTest struct {
	id, accountID, personID string
}

// pendingTestFor finds the pending test sign-in an answer refused before
// its purpose was known belongs to: the one whose browser binding this
// browser carries (so it is the sign-in this browser started last) and,
// when the answer names its AuthnRequest, whose request that is.
func (s *Service) pendingTestFor(ctx context.Context, accountID, binding, requestID string) (*pendingTest, error) {
	if binding == "" || !ids.Valid(accountID) {
		return nil, nil
	}
	var t pendingTest
	var reqID string
	err := s.DB.QueryRow(ctx, `SELECT id, account_id, person_id, request_id FROM sso_test_sign_ins
		WHERE account_id = ? AND browser_binding = ? AND state = ? AND expires_at > ? ORDER BY created_at DESC, id DESC LIMIT 1`,
		accountID, ids.Hash(binding), TestPending, store.At(s.now())).Scan(&t.id, &t.accountID, &t.personID, &reqID)
	if errors.Is(store.NotFound(err), store.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("find test sign-in: %w", err)
	}
	if requestID != "" && requestID != reqID {
		return nil, nil
	}
	return &t, nil
}

// finishTest handles a verified answer to a test sign-in: the linking
// decision is made exactly as for a real sign-in, but not applied.
func (s *Service) finishTest(ctx context.Context, accountID string, a *saml.Assertion, in Integration, ip string) (*Outcome, error) {
	var t pendingTest
	var expires store.Time
	var state string
	err := s.DB.QueryRow(ctx, `SELECT id, account_id, person_id, state, expires_at FROM sso_test_sign_ins WHERE id = ? AND account_id = ?`,
		a.AttemptRef, accountID).Scan(&t.id, &t.accountID, &t.personID, &state, &expires)
	if errors.Is(store.NotFound(err), store.ErrNotFound) || err == nil && (state != TestPending || !s.now().Before(expires.Time)) {
		return nil, s.refuse(ctx, accountID, saml.PurposeTest, ip, subject(a), testFinished(a, a.AttemptRef))
	} else if err != nil {
		return nil, fmt.Errorf("finish test sign-in: %w", err)
	}
	d, err := s.evaluate(ctx, accountID, a, in, false)
	var se *Error
	if errors.As(err, &se) {
		return s.refuseTest(ctx, &t, a, d, in, se, ip)
	} else if err != nil {
		return nil, err
	}
	res, err := s.testResult(ctx, a, d, in)
	if err != nil {
		return nil, err
	}
	if err := s.saveTest(ctx, &t, TestAccepted, res, a, ip); errors.Is(err, errTestFinished) {
		return nil, s.refuse(ctx, accountID, saml.PurposeTest, ip, subject(a), testFinished(a, t.id))
	} else if err != nil {
		return nil, err
	}
	return &Outcome{TestID: t.id}, nil
}

// refuseTest makes a refusal the result of a test sign-in. a and d are
// nil when the validator refused the answer.
func (s *Service) refuseTest(ctx context.Context, t *pendingTest, a *saml.Assertion, d *Decision, in Integration, e *Error, ip string) (*Outcome, error) {
	e.Reference = strings.ToUpper(ids.Secret(6))
	e.AccountID = t.accountID
	res := &TestResult{Active: in.Active}
	if a != nil {
		var err error
		if res, err = s.testResult(ctx, a, d, in); err != nil {
			return nil, err
		}
		res.User.Outcome = TestUserRefused
	}
	res.Code, res.Detail, res.Reference = e.Code, e.Detail, e.Reference
	var subj string
	if a != nil {
		subj = subject(a)
	}
	s.Log.Info("sso test sign-in refused", "account_id", t.accountID, "test", t.id, "code", e.Code, "detail", e.Detail,
		"reference", e.Reference, "subject", printableSubject(subj), "ip", ip)
	if err := s.saveTest(ctx, t, TestRefused, res, a, ip); errors.Is(err, errTestFinished) {
		// Another answer finished the test meanwhile: this refusal is
		// reported like any other.
		return nil, s.refuse(ctx, t.accountID, saml.PurposeTest, ip, subj, e)
	} else if err != nil {
		return nil, err
	}
	return &Outcome{TestID: t.id}, nil
}

// testResult describes a verified assertion and the decision made for it.
func (s *Service) testResult(ctx context.Context, a *saml.Assertion, d *Decision, in Integration) (*TestResult, error) {
	res := &TestResult{Active: in.Active, Verified: true, Issuer: a.Issuer, NameID: a.NameID, NameIDFormat: a.NameIDFormat,
		Attributes: a.AttributeList, GroupsOverage: a.GroupsOverage}
	u := &TestUser{Outcome: TestUserExisting, Login: subject(a), StableID: d.Stable, SCIMUser: d.SCIMUserID, Link: d.Link,
		FirstLink: d.FirstLink, EndsSessions: d.EndsSessions, Role: d.Role, NewRole: d.NewRole}
	switch {
	case d.Person != nil:
		u.PersonID, u.Email, u.DisplayName = d.Person.ID, d.Person.Email, d.Person.DisplayName
	case d.Link == LinkNew:
		u.Outcome, u.Email, u.DisplayName = TestUserNew, d.RawEmail, a.DisplayName
	}
	res.User = u
	res.GroupsFromSCIM = d.SCIMUserID != "" && (len(a.Groups) == 0 || a.GroupsOverage)
	for _, g := range d.Groups {
		res.Groups = append(res.Groups, TestGroup{Value: g,
			Admins:       in.Groups.AdminsUUID != "" && strings.EqualFold(g, in.Groups.AdminsUUID),
			DesktopUsers: in.Groups.DesktopUsersUUID != "" && strings.EqualFold(g, in.Groups.DesktopUsersUUID)})
	}
	res.Admin = d.InGroup(in.Groups.AdminsUUID)
	res.DesktopUser = d.InGroup(in.Groups.DesktopUsersUUID)
	res.BackupLogin = d.BackupLogin
	if res.DesktopUser && s.SeatPools != nil {
		p, err := s.SeatPools(ctx, d.AccountID, d.Groups)
		if err != nil {
			return nil, err
		}
		res.SeatPool = p
	}
	return res, nil
}

// saveTest stores a test sign-in's result and audits it, once.
func (s *Service) saveTest(ctx context.Context, t *pendingTest, state string, res *TestResult, a *saml.Assertion, ip string) error {
	raw, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("test sign-in result: %w", err)
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		r, err := tx.Exec(ctx, `UPDATE sso_test_sign_ins SET state = ?, result_json = ?, finished_at = ? WHERE id = ? AND account_id = ? AND state = ?`,
			state, string(raw), store.At(s.now()), t.id, t.accountID, TestPending)
		if err != nil {
			return fmt.Errorf("finish test sign-in: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("finish test sign-in: %w", err)
		} else if n != 1 {
			return errTestFinished
		}
		// The admin's own browser brings the answer back (it carries the
		// binding cookie of the test they started).
		actor := audit.Actor{Type: audit.ActorPerson, ID: t.personID, IP: ip}
		if p, err := s.Accounts.PersonByIDTx(ctx, tx, t.personID); err == nil {
			actor.Label = p.Email
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		after := map[string]any{"result": state}
		if res.Code != "" {
			after["code"] = res.Code
		}
		label := ""
		if a != nil {
			label = printableSubject(subject(a))
			after["name_id"] = printableSubject(a.NameID)
		}
		if res.User != nil {
			after["user"] = res.User.Outcome
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: t.accountID, Action: "idp.test_sign_in_finished",
			TargetType: "idp_test_sign_in", TargetID: t.id, TargetLabel: label, After: after})
	})
}

// PurgeTests deletes test sign-ins (and what the IdP sent in them) once
// they have expired.
func (s *Service) PurgeTests(ctx context.Context) (int64, error) {
	r, err := s.DB.Exec(ctx, `DELETE FROM sso_test_sign_ins WHERE expires_at < ?`, store.At(s.now()))
	if err != nil {
		return 0, fmt.Errorf("purge test sign-ins: %w", err)
	}
	n, _ := r.RowsAffected()
	return n, nil
}

// TestPurgeJob runs PurgeTests hourly under the job runner's lease.
func (s *Service) TestPurgeJob() jobs.Job {
	return jobs.Job{Name: "sso-test-purge", Interval: time.Hour, Run: func(ctx context.Context) error {
		_, err := s.PurgeTests(ctx)
		return err
	}}
}

// RecentTests lists an admin's own test sign-ins of an account that have
// not expired, newest first.
func (s *Service) RecentTests(ctx context.Context, accountID, personID string, limit int) ([]TestSignIn, error) {
	out, err := store.QueryAll(ctx, s.DB, func(row store.Scanner) (TestSignIn, error) {
		t, err := scanTest(row)
		if err != nil {
			return TestSignIn{}, err
		}
		return *t, nil
	}, `SELECT `+testColumns+` FROM sso_test_sign_ins
		WHERE account_id = ? AND person_id = ? AND expires_at > ? ORDER BY created_at DESC, id DESC LIMIT ?`,
		accountID, personID, store.At(s.now()), limit)
	if err != nil {
		return nil, fmt.Errorf("test sign-ins: %w", err)
	}
	return out, nil
}
