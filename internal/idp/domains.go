package idp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/freetext"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// Domain verification states.
const (
	DomainPending  = "pending"
	DomainVerified = "verified"
	DomainFailed   = "failed"
)

// Domain is an email domain of the account and its verification state.
type Domain struct {
	ID            string
	AccountID     string
	Name          string // ASCII (IDNA) form, lower case
	Unicode       string // as people read it (equals Name for ASCII domains)
	TXTName       string // the record to publish …
	TXTValue      string // … and its value
	Status        string
	Checks        int
	LastCheckedAt store.Time
	LastFound     string // what the last check found, in words
	WindowUntil   store.Time
	NextCheckAt   store.Time // zero when no background check is planned
	VerifiedAt    store.Time
	CreatedAt     store.Time
}

// TXTHost is the record name relative to the domain, as most DNS hosting
// consoles ask for it.
func (d *Domain) TXTHost() string { return strings.TrimSuffix(d.TXTName, "."+d.Name) }

// NormalizeDomain checks an email domain an admin typed and returns its
// ASCII form. Errors are sentences for the admin.
func NormalizeDomain(raw string) (string, error) {
	d := strings.TrimSpace(raw)
	if d == "" {
		return "", bad("Enter a domain, for example example.com.")
	}
	if len(d) > 300 {
		return "", bad("This is too long for a domain name.")
	}
	lower := strings.ToLower(d)
	if strings.Contains(lower, "://") || strings.ContainsAny(d, "/?#") {
		return "", bad("Enter the domain only (like example.com), not a web address: %q.", d)
	}
	if strings.HasPrefix(d, "@") {
		d = d[1:]
	} else if i := strings.LastIndex(d, "@"); i >= 0 {
		return "", bad("Enter only the part after the @ of your email addresses: %s.", d[i+1:])
	}
	if strings.HasPrefix(d, "*.") {
		return "", bad("Wildcards are not supported: add each email domain on its own.")
	}
	d = strings.TrimSuffix(d, ".")
	if strings.ContainsAny(d, " \t\r\n") {
		return "", bad("A domain cannot contain spaces.")
	}
	if _, err := netip.ParseAddr(strings.Trim(d, "[]")); err == nil {
		return "", bad("Enter a domain name, not an IP address.")
	}
	// The same mapping as every address's domain (account.CanonicalDomain),
	// so a verified domain and the addresses at it always meet.
	ascii, err := account.CanonicalDomain(d)
	if err != nil {
		if ae := (*account.AddressError)(nil); errors.As(err, &ae) && ae.Reason == "incomplete_domain" {
			lower := strings.ToLower(d)
			if _, icann := publicsuffix.PublicSuffix(lower); icann {
				return "", bad("%s is a public suffix shared by many organizations, not a domain one organization can own. Enter your own domain, such as example.%s.", lower, lower)
			}
			return "", bad("%q is not a complete domain: it needs at least one dot, like example.com.", d)
		}
		return "", bad("%q is not a valid domain name: use letters, digits and hyphens, with dots between the parts.", d)
	}
	if suffix, icann := publicsuffix.PublicSuffix(ascii); suffix == ascii && (icann || strings.Contains(ascii, ".")) {
		return "", bad("%s is a public suffix shared by many organizations, not a domain one organization can own. Enter your own domain, such as example.%s.", display(ascii), display(ascii))
	}
	if !strings.Contains(ascii, ".") {
		return "", bad("%q is not a complete domain: it needs at least one dot, like example.com.", d)
	}
	for _, label := range strings.Split(ascii, ".") {
		if label == "" {
			return "", bad("%q has an empty part between dots.", d)
		}
		if strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return "", bad("%q is not a valid domain name: a part cannot start or end with a hyphen.", d)
		}
	}
	if _, err := publicsuffix.EffectiveTLDPlusOne(ascii); err != nil {
		return "", bad("%s is not a domain one organization can own.", display(ascii))
	}
	if p := consumerProvider(ascii); p != "" {
		return "", bad("%s is a public email service (%s): anyone can have an address there, so it cannot identify your organization. Enter the domain of your company's email addresses.", display(ascii), p)
	}
	return ascii, nil
}

// bad is a refusal of NormalizeDomain: a sentence for the admin.
func bad(format string, args ...any) error { return domainProblem(fmt.Sprintf(format, args...)) }

type domainProblem string

func (p domainProblem) Error() string { return string(p) }

// display returns the Unicode form of an ASCII domain for messages.
func display(ascii string) string {
	u, err := idna.ToUnicode(ascii)
	if err != nil {
		return ascii
	}
	return u
}

// consumerDomains are free mail services whose domains cannot identify an
// organization (matched with their subdomains).
var consumerDomains = map[string]string{
	"gmail.com": "Gmail", "googlemail.com": "Gmail",
	"outlook.com": "Outlook.com", "hotmail.com": "Outlook.com", "hotmail.co.uk": "Outlook.com", "hotmail.fr": "Outlook.com",
	"hotmail.de": "Outlook.com", "hotmail.it": "Outlook.com", "hotmail.es": "Outlook.com", "live.com": "Outlook.com",
	"live.co.uk": "Outlook.com", "live.fr": "Outlook.com", "live.de": "Outlook.com", "msn.com": "Outlook.com",
	"outlook.de": "Outlook.com", "outlook.fr": "Outlook.com", "passport.com": "Outlook.com",
	"yahoo.com": "Yahoo Mail", "yahoo.co.uk": "Yahoo Mail", "yahoo.fr": "Yahoo Mail", "yahoo.de": "Yahoo Mail",
	"yahoo.co.jp": "Yahoo Mail", "yahoo.com.br": "Yahoo Mail", "yahoo.es": "Yahoo Mail", "yahoo.it": "Yahoo Mail",
	"ymail.com": "Yahoo Mail", "rocketmail.com": "Yahoo Mail",
	"icloud.com": "iCloud Mail", "me.com": "iCloud Mail", "mac.com": "iCloud Mail",
	"aol.com": "AOL Mail", "aim.com": "AOL Mail",
	"proton.me": "Proton Mail", "protonmail.com": "Proton Mail", "protonmail.ch": "Proton Mail", "pm.me": "Proton Mail",
	"gmx.com": "GMX", "gmx.de": "GMX", "gmx.net": "GMX", "gmx.at": "GMX", "gmx.ch": "GMX",
	"web.de": "WEB.DE", "t-online.de": "T-Online", "freenet.de": "freenet",
	"mail.com": "mail.com", "email.com": "mail.com",
	"yandex.ru": "Yandex Mail", "yandex.com": "Yandex Mail", "ya.ru": "Yandex Mail",
	"mail.ru": "Mail.ru", "bk.ru": "Mail.ru", "inbox.ru": "Mail.ru", "list.ru": "Mail.ru",
	"qq.com": "QQ Mail", "163.com": "NetEase Mail", "126.com": "NetEase Mail", "yeah.net": "NetEase Mail",
	"sina.com": "Sina Mail", "naver.com": "Naver Mail", "daum.net": "Daum Mail",
	"zoho.com": "Zoho Mail", "zohomail.com": "Zoho Mail",
	"fastmail.com": "Fastmail", "fastmail.fm": "Fastmail",
	"tutanota.com": "Tuta", "tuta.io": "Tuta", "tutanota.de": "Tuta", "tuta.com": "Tuta",
	"hey.com": "HEY", "hushmail.com": "Hushmail", "mailfence.com": "Mailfence", "posteo.de": "Posteo",
	"mailbox.org": "mailbox.org", "laposte.net": "La Poste", "orange.fr": "Orange", "free.fr": "Free",
	"sfr.fr": "SFR", "libero.it": "Libero", "virgilio.it": "Virgilio", "seznam.cz": "Seznam",
	"wp.pl": "WP Poczta", "o2.pl": "o2", "interia.pl": "Interia",
	"comcast.net": "Xfinity", "verizon.net": "Verizon", "att.net": "AT&T", "sbcglobal.net": "AT&T",
	"bellsouth.net": "AT&T", "cox.net": "Cox", "charter.net": "Spectrum", "earthlink.net": "EarthLink",
	"btinternet.com": "BT", "sky.com": "Sky", "virginmedia.com": "Virgin Media", "bigpond.com": "Telstra",
	"rediffmail.com": "Rediffmail", "uol.com.br": "UOL", "bol.com.br": "BOL",
}

func consumerProvider(ascii string) string {
	for d := ascii; d != ""; {
		if p, ok := consumerDomains[d]; ok {
			return p
		}
		_, rest, ok := strings.Cut(d, ".")
		if !ok {
			break
		}
		d = rest
	}
	return ""
}

const domainColumns = `id, account_id, domain, txt_name, txt_value, status, checks, last_checked_at, last_found,
	window_until, next_check_at, verified_at, created_at`

func scanDomain(row interface{ Scan(...any) error }) (*Domain, error) {
	var d Domain
	if err := row.Scan(&d.ID, &d.AccountID, &d.Name, &d.TXTName, &d.TXTValue, &d.Status, &d.Checks, &d.LastCheckedAt,
		&d.LastFound, &d.WindowUntil, &d.NextCheckAt, &d.VerifiedAt, &d.CreatedAt); err != nil {
		return nil, store.NotFound(err)
	}
	d.Unicode = display(d.Name)
	return &d, nil
}

// Domains lists the account's domains in the order they were added.
func (s *Service) Domains(ctx context.Context, accountID string) ([]Domain, error) {
	return listDomains(ctx, s.DB, accountID)
}

func listDomains(ctx context.Context, q store.Querier, accountID string) ([]Domain, error) {
	out, err := store.QueryAll(ctx, q, func(row store.Scanner) (Domain, error) {
		d, err := scanDomain(row)
		if err != nil {
			return Domain{}, err
		}
		return *d, nil
	}, `SELECT `+domainColumns+` FROM idp_domains WHERE account_id = ? ORDER BY created_at, domain`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	return out, nil
}

func (s *Service) domain(ctx context.Context, q store.Querier, accountID, id string) (*Domain, error) {
	if !ids.Valid(id) {
		return nil, store.ErrNotFound
	}
	return scanDomain(q.QueryRow(ctx, `SELECT `+domainColumns+` FROM idp_domains WHERE id = ? AND account_id = ?`, id, accountID))
}

// Domain returns one domain of the account (store.ErrNotFound for another
// account's domain).
func (s *Service) Domain(ctx context.Context, accountID, id string) (*Domain, error) {
	return s.domain(ctx, s.DB, accountID, id)
}

// lowerToken returns n random characters from a–z and 2–7 (DNS labels are
// case-insensitive, so the token must be too).
func lowerToken(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// AddDomain lists a domain for the account with a fresh random TXT record
// and checks DNS at once. A domain another account has verified is refused.
func (s *Service) AddDomain(ctx context.Context, accountID, raw string, actor audit.Actor) (*Domain, error) {
	name, err := NormalizeDomain(raw)
	if err != nil {
		return nil, &FieldError{Field: "domain", Message: err.Error()}
	}
	now := s.now()
	d := &Domain{ID: ids.New(), AccountID: accountID, Name: name, Unicode: display(name),
		TXTName: "_gatehouse-" + lowerToken(8) + "." + name, TXTValue: "gatehouse-domain-verification=" + lowerToken(32),
		Status: DomainPending, WindowUntil: store.At(now.Add(s.Config.VerifyWindow)), CreatedAt: store.At(now)}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := getIntegration(ctx, tx, accountID); err != nil {
			return err
		}
		var owner string
		err := tx.QueryRow(ctx, `SELECT account_id FROM idp_domains WHERE domain = ? AND (status = ? OR account_id = ?)
			ORDER BY CASE WHEN account_id = ? THEN 0 ELSE 1 END LIMIT 1`, name, DomainVerified, accountID, accountID).Scan(&owner)
		switch {
		case err == nil && owner == accountID:
			return fieldErr("domain", "%s is already in your list.", d.Unicode)
		case err == nil:
			return fieldErr("domain", "%s is already verified by another business account. A domain can belong to one business account only: if that account is also yours, remove the domain there first.", d.Unicode)
		case !errors.Is(store.NotFound(err), store.ErrNotFound):
			return fmt.Errorf("add domain: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM idp_domains WHERE account_id = ?`, accountID).Scan(&n); err != nil {
			return fmt.Errorf("add domain: %w", err)
		}
		if n >= s.Config.MaxDomains {
			return fieldErr("domain", "A business account can list at most %d domains. Remove one you no longer use.", s.Config.MaxDomains)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO idp_domains (id, account_id, domain, txt_name, txt_value, status, window_until, next_check_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, d.ID, accountID, d.Name, d.TXTName, d.TXTValue, d.Status, d.WindowUntil,
			store.At(now.Add(s.Config.FirstRecheck)), d.CreatedAt); err != nil {
			if store.IsUniqueViolation(err) {
				return fieldErr("domain", "%s is already in your list.", d.Unicode)
			}
			return fmt.Errorf("add domain: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "idp.domain_added",
			TargetType: "domain", TargetID: d.ID, TargetLabel: d.Name,
			After: map[string]string{"txt_name": d.TXTName, "txt_value": d.TXTValue}})
	})
	if err != nil {
		return nil, err
	}
	// The admin may have published the record before adding the domain.
	if _, err := s.check(ctx, d.ID, accountID, now, true, actor); err != nil {
		return nil, err
	}
	return s.Domain(ctx, accountID, d.ID)
}

// RemoveDomain deletes a domain from the account. While the integration is
// active, the last verified domain cannot be removed (SSO would stop finding
// the account): deactivate first, or verify another domain.
func (s *Service) RemoveDomain(ctx context.Context, accountID, id string, actor audit.Actor) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		d, err := s.domain(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		in, err := getIntegration(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if in.Active && d.Status == DomainVerified {
			var others int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM idp_domains WHERE account_id = ? AND status = ? AND id <> ?`,
				accountID, DomainVerified, id).Scan(&others); err != nil {
				return fmt.Errorf("remove domain: %w", err)
			}
			if others == 0 {
				return fieldErr("domain", "%s is the last verified domain of an active integration: without it nobody could sign in with SSO. Deactivate the integration first, or add and verify another domain.", d.Unicode)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM idp_domains WHERE id = ? AND account_id = ?`, id, accountID); err != nil {
			return fmt.Errorf("remove domain: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "idp.domain_removed",
			TargetType: "domain", TargetID: d.ID, TargetLabel: d.Name, Before: map[string]string{"status": d.Status}})
	})
}

// VerifyDomain checks the domain's TXT record now. When it is not found
// the background re-checks start over for another full window.
func (s *Service) VerifyDomain(ctx context.Context, accountID, id string, actor audit.Actor) (*Domain, error) {
	if _, err := s.domain(ctx, s.DB, accountID, id); err != nil {
		return nil, err
	}
	if _, err := s.check(ctx, id, accountID, s.now(), true, actor); err != nil {
		return nil, err
	}
	return s.Domain(ctx, accountID, id)
}

// RecheckDue is the background job: it checks every pending domain whose
// next check is due at now, with back-off, until its window ends (then the
// domain is failed). The jobs runner holds a lease, so one node runs it.
func (s *Service) RecheckDue(ctx context.Context, now time.Time) error {
	rows, err := s.DB.Query(ctx, `SELECT id, account_id FROM idp_domains WHERE status = ? AND next_check_at <= ?
		ORDER BY next_check_at LIMIT 200`, DomainPending, store.At(now))
	if err != nil {
		return fmt.Errorf("due domains: %w", err)
	}
	type due struct{ id, account string }
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.account); err != nil {
			rows.Close()
			return fmt.Errorf("due domains: %w", err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("due domains: %w", err)
	}
	// Stay well inside the job's lease (interval + 1 minute): what is left
	// is due again at the next run.
	started := time.Now()
	var errs []error
	for _, d := range list {
		if ctx.Err() != nil || time.Since(started) > maxRecheckRun {
			break
		}
		if _, err := s.check(ctx, d.id, d.account, now, false, audit.System(JobName)); err != nil {
			errs = append(errs, fmt.Errorf("domain %s: %w", d.id, err))
		}
	}
	return errors.Join(errs...)
}

// JobName is the background job's name (and its lease).
const JobName = "idp-dns-recheck"

// maxRecheckRun bounds one run of the job.
const maxRecheckRun = 45 * time.Second

// backoff returns the delay before background check number n+1.
func (s *Service) backoff(checks int) time.Duration {
	d := s.Config.FirstRecheck
	for i := 1; i < checks && d < s.Config.MaxRecheck; i++ {
		d *= 2
	}
	return min(d, s.Config.MaxRecheck)
}

// check looks the domain's TXT record up and stores the outcome. manual is
// an admin's "Verify" (or the check right after adding): it restarts the
// background window when the record is still missing.
func (s *Service) check(ctx context.Context, id, accountID string, now time.Time, manual bool, actor audit.Actor) (string, error) {
	d, err := s.domain(ctx, s.DB, accountID, id)
	if err != nil {
		return "", err
	}
	if d.Status == DomainVerified {
		return d.Status, nil
	}
	found, ok := s.lookup(ctx, d)
	var verifiedElsewhere bool
	if ok {
		var one int
		err := s.DB.QueryRow(ctx, `SELECT 1 FROM idp_domains WHERE domain = ? AND status = ? AND account_id <> ?`,
			d.Name, DomainVerified, accountID).Scan(&one)
		switch err := store.NotFound(err); {
		case err == nil:
			verifiedElsewhere = true
		case !errors.Is(err, store.ErrNotFound):
			return "", err
		}
	}
	status, next, window := DomainPending, store.Time{}, d.WindowUntil
	switch {
	case verifiedElsewhere:
		status = DomainFailed
		found = "The record is correct, but another business account verified " + d.Unicode + " first. A domain can belong to one business account only."
	case ok:
		status = DomainVerified
	default:
		if manual {
			window = store.At(now.Add(s.Config.VerifyWindow))
		}
		at := now.Add(s.backoff(d.Checks + 1))
		if manual {
			at = now.Add(s.Config.FirstRecheck)
		}
		if at.After(window.Time) {
			if now.Before(window.Time) {
				at = window.Time
			} else {
				status = DomainFailed
				found += fmt.Sprintf(" Gatehouse stopped checking after %s; publish the record and click Verify to check again.", hours(s.Config.VerifyWindow))
			}
		}
		if status == DomainPending {
			next = store.At(at)
		}
	}
	var verifiedAt store.Time
	if status == DomainVerified {
		verifiedAt = store.At(now)
	}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE idp_domains SET status = ?, checks = checks + 1, last_checked_at = ?, last_found = ?,
			window_until = ?, next_check_at = ?, verified_at = ? WHERE id = ? AND account_id = ? AND status <> ?`,
			status, store.At(now), found, window, next, verifiedAt, id, accountID, DomainVerified)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 || status == d.Status && status == DomainPending {
			return nil
		}
		action := map[string]string{DomainVerified: "idp.domain_verified", DomainFailed: "idp.domain_verification_failed",
			DomainPending: "idp.domain_verification_restarted"}[status]
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: action, TargetType: "domain",
			TargetID: id, TargetLabel: d.Name, Before: map[string]string{"status": d.Status},
			After: map[string]string{"status": status, "found": found}})
	})
	if store.IsUniqueViolation(err) {
		// Another account verified the same domain in the same instant.
		err = s.DB.InTx(ctx, func(tx *store.Tx) error {
			found = "The record is correct, but another business account verified " + d.Unicode + " first. A domain can belong to one business account only."
			if _, err := tx.Exec(ctx, `UPDATE idp_domains SET status = ?, checks = checks + 1, last_checked_at = ?, last_found = ?,
				next_check_at = NULL WHERE id = ? AND account_id = ? AND status <> ?`,
				DomainFailed, store.At(now), found, id, accountID, DomainVerified); err != nil {
				return err
			}
			status = DomainFailed
			return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "idp.domain_verification_failed",
				TargetType: "domain", TargetID: id, TargetLabel: d.Name, After: map[string]string{"found": found}})
		})
	}
	if err != nil {
		return "", fmt.Errorf("record domain check: %w", err)
	}
	return status, nil
}

func hours(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return d.String()
}

// lookup queries the TXT records of the domain's record name and reports
// whether the expected value is among them, and what was found, in words.
func (s *Service) lookup(ctx context.Context, d *Domain) (string, bool) {
	res := s.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	lctx, cancel := context.WithTimeout(ctx, s.Config.DNSTimeout)
	defer cancel()
	txts, err := res.LookupTXT(lctx, d.TXTName+".")
	if err != nil {
		var dnsErr *net.DNSError
		switch {
		case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
			return "No TXT record found at " + d.TXTName + ".", false
		case errors.As(err, &dnsErr) && dnsErr.IsTimeout:
			return "No TXT record could be read at " + d.TXTName + ": the DNS lookup timed out.", false
		case errors.As(err, &dnsErr):
			// dnsErr.Server names the system resolver even when Dial
			// goes elsewhere, so only the reason is shown.
			reason := dnsErr.Err
			if reason == "server misbehaving" {
				// How Go reports SERVFAIL and REFUSED answers.
				reason = "the DNS server could not answer for this name (SERVFAIL or REFUSED)"
			}
			return "No TXT record could be read at " + d.TXTName + ": " + freetext.Shorten(reason, 120) + ".", false
		default:
			return "No TXT record could be read at " + d.TXTName + ": " + freetext.Shorten(err.Error(), 160) + ".", false
		}
	}
	var others []string
	for _, t := range txts {
		v := strings.Trim(strings.TrimSpace(t), `"`)
		if v == d.TXTValue {
			return "Found the expected TXT record at " + d.TXTName + ".", true
		}
		others = append(others, quoteFound(v))
	}
	if len(others) == 0 {
		return "No TXT record found at " + d.TXTName + ".", false
	}
	if len(others) > 3 {
		others = append(others[:3], fmt.Sprintf("and %d more", len(others)-3))
	}
	return fmt.Sprintf("TXT record at %s has another value: %s.", d.TXTName, strings.Join(others, ", ")), false
}

// quoteFound quotes a found value for display, shortened.
func quoteFound(v string) string { return `"` + freetext.Shorten(v, 80) + `"` }

// NewResolver returns a resolver asking only server (host:port), or the
// system resolver when server is empty.
func NewResolver(server string) *net.Resolver {
	if server == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dialer net.Dialer
		return dialer.DialContext(ctx, network, server)
	}}
}

// AccountForDomain returns the business account that verified domain (an
// email address is accepted too) and whether its integration is active;
// store.ErrNotFound when no account verified it.
func (s *Service) AccountForDomain(ctx context.Context, domain string) (accountID string, active bool, err error) {
	var ascii string
	if strings.Contains(domain, "@") {
		norm, err := account.CanonicalEmail(domain)
		if err != nil {
			return "", false, store.ErrNotFound
		}
		_, ascii, _ = strings.Cut(norm, "@")
	} else if ascii, err = account.CanonicalDomain(domain); err != nil {
		return "", false, store.ErrNotFound
	}
	err = s.DB.QueryRow(ctx, `SELECT d.account_id, COALESCE(i.active, ?) FROM idp_domains d
		LEFT JOIN idp_integrations i ON i.account_id = d.account_id
		WHERE d.domain = ? AND d.status = ?`, false, ascii, DomainVerified).Scan(&accountID, &active)
	if err != nil {
		return "", false, store.NotFound(err)
	}
	return accountID, active, nil
}
