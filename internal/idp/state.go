package idp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/saml"
	"gatehouse/internal/scim"
	"gatehouse/internal/store"
)

// StepTitles names the seven steps.
var StepTitles = map[int]string{
	1: "Configure your organization's domains",
	2: "Register the enterprise app in your IdP",
	3: "Map the user groups",
	4: "Configure SAML single sign-on",
	5: "Configure SCIM provisioning",
	6: "Add users to the application groups",
	7: "Choose the backup login",
}

// Step is one step's state.
type Step struct {
	Number int
	Title  string
	Done   bool
	// Left says what is missing while not done; Summary what is set when done.
	Left    string
	Summary string
	// Warning is shown even when done (e.g. Desktop Users not mapped).
	Warning string
}

// Overview is everything the configurator page shows.
type Overview struct {
	Integration *Integration
	Provider    *Provider
	Steps       []Step // steps 1–7
	DoneCount   int
	AllDone     bool

	Domains []Domain

	SP          saml.SPSettings
	Certs       []CertInfo
	SCIMBaseURL string
	SCIMEnabled bool
	Token       scim.TokenInfo
	Activity    scim.Activity
	GroupCounts []GroupCount

	Backup      *Candidate // the current backup login, when it is a member
	BackupValid bool
	Candidates  []Candidate
}

// Overview loads the account's configurator state (ErrNotStarted when the
// admin has not clicked Start Configuring yet).
func (s *Service) Overview(ctx context.Context, accountID string) (*Overview, error) {
	in, err := getIntegration(ctx, s.DB, accountID)
	if err != nil {
		return nil, err
	}
	o := &Overview{Integration: in, Provider: ProviderByID(in.Provider), SP: s.SPSettings(accountID),
		SCIMBaseURL: s.SCIMBaseURL(), Certs: s.Certificates(in), SCIMEnabled: true}
	if o.Domains, err = listDomains(ctx, s.DB, accountID); err != nil {
		return nil, err
	}
	if s.SCIM != nil {
		if o.SCIMEnabled, err = s.SCIM.Enabled(ctx, accountID); err != nil {
			return nil, err
		}
		if o.Token, err = s.SCIM.TokenStatus(ctx, accountID); err != nil {
			return nil, err
		}
		if o.Activity, err = s.SCIM.Activity(ctx, accountID); err != nil {
			return nil, err
		}
	}
	if o.GroupCounts, err = s.GroupMemberCounts(ctx, accountID); err != nil {
		return nil, err
	}
	if o.Candidates, err = s.BackupCandidates(ctx, accountID); err != nil {
		return nil, err
	}
	if o.BackupValid, err = backupValid(ctx, s.DB, accountID, in.BackupPersonID); err != nil {
		return nil, err
	}
	if in.BackupPersonID != "" {
		var c Candidate
		err := s.DB.QueryRow(ctx, `SELECT p.id, p.email, p.display_name, m.last_sign_in_at FROM people p
			LEFT JOIN memberships m ON m.person_id = p.id AND m.account_id = ? WHERE p.id = ?`, accountID, in.BackupPersonID).
			Scan(&c.PersonID, &c.Email, &c.DisplayName, &c.LastSignIn)
		if err == nil {
			o.Backup = &c
		} else if !errors.Is(store.NotFound(err), store.ErrNotFound) {
			return nil, fmt.Errorf("backup login: %w", err)
		}
	}
	o.Steps = s.evaluate(in, o.Domains, o.SCIMEnabled, o.Token.Exists, o.BackupValid)
	if o.Backup != nil && o.Steps[6].Done {
		o.Steps[6].Summary = "Backup login: " + o.Backup.Email
	}
	for _, st := range o.Steps {
		if st.Done {
			o.DoneCount++
		}
	}
	o.AllDone = o.DoneCount == len(o.Steps)
	return o, nil
}

// evaluate decides which steps are complete. It is the one place that
// knows the rules, used for the page and, inside the activation
// transaction, for the server-side re-check.
func (s *Service) evaluate(in *Integration, domains []Domain, scimOn, tokenExists, backupOK bool) []Step {
	steps := make([]Step, 7)
	for i := range steps {
		steps[i] = Step{Number: i + 1, Title: StepTitles[i+1]}
	}
	// 1: at least one domain, all verified.
	st := &steps[0]
	verified, pending, failed := 0, 0, 0
	for _, d := range domains {
		switch d.Status {
		case DomainVerified:
			verified++
		case DomainFailed:
			failed++
		default:
			pending++
		}
	}
	switch {
	case len(domains) == 0:
		st.Left = "Add your organization's email domain and verify it with a DNS TXT record."
	case pending+failed > 0:
		st.Left = fmt.Sprintf("%d of %d domain%s verified; every listed domain must be verified (or removed).", verified, len(domains), plural(len(domains)))
	default:
		st.Done = true
		st.Summary = fmt.Sprintf("%d verified domain%s", verified, plural(verified))
	}
	// 2, 4, 5, 6: the admin's tick, with each step's own conditions.
	steps[1].Done = in.StepDone[2]
	if steps[1].Done {
		steps[1].Summary = "Marked as done in your IdP"
	} else {
		steps[1].Left = "Register the app in your IdP, then tick “Configuration in the IdP directory is done”."
	}
	// 3: the admins group.
	st = &steps[2]
	if in.Groups.AdminsUUID != "" && in.Groups.AdminsName != "" {
		st.Done = true
		st.Summary = "Admins: " + in.Groups.AdminsName
	} else {
		st.Left = "Enter the Business Account Admins group (display name and UUID)."
	}
	if in.Groups.DesktopUsersUUID == "" {
		st.Warning = "Desktop Users is not mapped yet: nobody can activate Desktop with SSO until it is."
	}
	// 4: IdP values valid and ticked.
	st = &steps[3]
	validCert := false
	now := s.now()
	for _, c := range in.certificates() {
		if now.Before(c.NotAfter) {
			validCert = true
		}
	}
	var missing []string
	if in.IdPEntityID == "" {
		missing = append(missing, "IdP entity ID")
	}
	if in.IdPSSOURL == "" {
		missing = append(missing, "IdP SSO URL")
	}
	if !validCert {
		missing = append(missing, "a valid public certificate")
	}
	switch {
	case len(missing) > 0:
		st.Left = "Still needed: " + joinAnd(missing) + "."
	case !in.StepDone[4]:
		st.Left = "Tick “Configuration in the IdP directory is done” once the IdP side is saved."
	default:
		st.Done = true
		st.Summary = "IdP " + in.IdPEntityID
	}
	for _, c := range s.Certificates(in) {
		if c.ExpiresSoon {
			st.Warning = fmt.Sprintf("A signing certificate expires in %d day%s: add the IdP's new certificate before then.", c.DaysLeft, plural(c.DaysLeft))
		}
	}
	// 5: SCIM off (saved), or on with a token and ticked.
	st = &steps[4]
	switch {
	case !scimOn:
		st.Done = true
		st.Summary = "SCIM is off: add and remove people by hand"
	case !tokenExists:
		st.Left = "Generate a bearer token for your IdP (or switch SCIM off if your IdP has none)."
	case !in.StepDone[5]:
		st.Left = "Tick “Configuration in the IdP directory is done” once provisioning is set up."
	default:
		st.Done = true
		st.Summary = "SCIM provisioning is set up"
	}
	// 6.
	steps[5].Done = in.StepDone[6]
	if steps[5].Done {
		steps[5].Summary = "Marked as done in your IdP"
	} else {
		steps[5].Left = "Add people to the groups in your IdP, then tick the box."
	}
	// 7.
	st = &steps[6]
	if backupOK {
		st.Done = true
	} else if in.BackupPersonID == "" {
		st.Left = "Choose the admin who keeps password access."
	} else {
		st.Left = "The backup login is no longer an active admin who has signed in: choose another one."
	}
	return steps
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func joinAnd(list []string) string {
	switch len(list) {
	case 0:
		return ""
	case 1:
		return list[0]
	}
	out := ""
	for i, s := range list {
		switch {
		case i == 0:
			out = s
		case i == len(list)-1:
			out += " and " + s
		default:
			out += ", " + s
		}
	}
	return out
}

// Activate switches the integration on after re-checking every step inside
// the transaction. From then on admin rights come from SSO (see
// AdminAccess). Two concurrent activations: one wins (conditional UPDATE),
// the other gets ErrAlreadyActive.
func (s *Service) Activate(ctx context.Context, accountID string, actor audit.Actor) error {
	scimOn, tokenExists := true, false
	if s.SCIM != nil {
		var err error
		if scimOn, err = s.SCIM.Enabled(ctx, accountID); err != nil {
			return err
		}
		tok, err := s.SCIM.TokenStatus(ctx, accountID)
		if err != nil {
			return err
		}
		tokenExists = tok.Exists
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		in, err := getIntegration(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if in.Active {
			return ErrAlreadyActive
		}
		domains, err := listDomains(ctx, tx, accountID)
		if err != nil {
			return err
		}
		backupOK, err := backupValid(ctx, tx, accountID, in.BackupPersonID)
		if err != nil {
			return err
		}
		var open []int
		for _, st := range s.evaluate(in, domains, scimOn, tokenExists, backupOK) {
			if !st.Done {
				open = append(open, st.Number)
			}
		}
		if len(open) > 0 {
			return &IncompleteError{Steps: open}
		}
		now := store.At(s.now())
		res, err := tx.Exec(ctx, `UPDATE idp_integrations SET active = ?, activated_at = ?, updated_at = ?
			WHERE account_id = ? AND active = ?`, true, now, now, accountID, false)
		if err != nil {
			return fmt.Errorf("activate: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("activate: %w", err)
		} else if n != 1 {
			return ErrAlreadyActive
		}
		var names []string
		var ended int64
		for _, d := range domains {
			names = append(names, d.Name)
			if d.Status != DomainVerified {
				continue
			}
			// From now on the IdP speaks for addresses at this domain: a
			// password session of someone there (a stranger who once
			// signed up with an employee's address included) ends at
			// once, except the backup login's. Domains are lower-case
			// ASCII letters, digits, hyphens and dots: nothing LIKE
			// treats specially.
			n, err := account.EndPasswordSessionsAtTx(ctx, tx, d.Name, in.BackupPersonID)
			if err != nil {
				return err
			}
			ended += n
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "idp.integration_activated",
			TargetType: "idp_integration", TargetID: accountID, TargetLabel: ProviderByID(in.Provider).Name,
			Before: map[string]bool{"active": false},
			After: map[string]any{"active": true, "domains": names, "admins_group": in.Groups.AdminsUUID,
				"idp_entity_id": in.IdPEntityID, "scim": scimOn, "password_sessions_ended": ended}})
	})
}

// Deactivate switches the integration off: SSO sign-in and SSO activation
// stop at once, and password sign-in gives admin rights again.
func (s *Service) Deactivate(ctx context.Context, accountID string, actor audit.Actor) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		in, err := getIntegration(ctx, tx, accountID)
		if err != nil {
			return err
		}
		now := store.At(s.now())
		res, err := tx.Exec(ctx, `UPDATE idp_integrations SET active = ?, deactivated_at = ?, updated_at = ?
			WHERE account_id = ? AND active = ?`, false, now, now, accountID, true)
		if err != nil {
			return fmt.Errorf("deactivate: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("deactivate: %w", err)
		} else if n != 1 {
			return ErrNotActive
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "idp.integration_deactivated",
			TargetType: "idp_integration", TargetID: accountID, TargetLabel: ProviderByID(in.Provider).Name,
			Before: map[string]bool{"active": true}, After: map[string]bool{"active": false}})
	})
}

// AdminAccess is the rule the app installs as account.Service.AdminAccess:
// an admin membership holds admin rights when the account's integration is
// not active, or when the session is an SSO sign-in into this account by a
// member of the IdP's admins group, or when the person is the backup login.
// Password admin rights of everyone else stop the moment the integration is
// activated, and come back when it is deactivated.
func (s *Service) AdminAccess(ctx context.Context, accountID string, sess *account.Session) (bool, error) {
	var active bool
	var backup *string
	err := s.DB.QueryRow(ctx, `SELECT active, backup_person_id FROM idp_integrations WHERE account_id = ?`, accountID).Scan(&active, &backup)
	switch err := store.NotFound(err); {
	case errors.Is(err, store.ErrNotFound):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("admin access: %w", err)
	}
	if !active {
		return true, nil
	}
	if sess == nil {
		return false, nil
	}
	if sess.Method == account.MethodSSO && sess.SSOAccount == accountID && sess.SSOAdmin {
		return true, nil
	}
	return backup != nil && *backup == sess.Person.ID, nil
}

// IsActive reports whether the account's integration is active.
func (s *Service) IsActive(ctx context.Context, accountID string) (bool, error) {
	var active bool
	err := s.DB.QueryRow(ctx, `SELECT active FROM idp_integrations WHERE account_id = ?`, accountID).Scan(&active)
	if errors.Is(store.NotFound(err), store.ErrNotFound) {
		return false, nil
	}
	return active, err
}

// overlapChoices are the overlaps offered when regenerating a SCIM token.
var overlapChoices = []time.Duration{0, 15 * time.Minute, time.Hour, 24 * time.Hour, 72 * time.Hour}

// OverlapChoices lists the overlaps an admin may pick for Regenerate.
func OverlapChoices() []time.Duration { return append([]time.Duration(nil), overlapChoices...) }
