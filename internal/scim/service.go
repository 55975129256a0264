// Package scim is Gatehouse's SCIM 2.0 server (RFC 7643/7644) for the
// identity providers that provision business accounts: Microsoft Entra ID,
// Okta, Ping Identity, JumpCloud and any other SCIM 2.0 client.
//
// The bearer token identifies the business account; every query filters on
// it. Users and groups are stored as canonical JSON plus the indexed columns
// filters and uniqueness need (see migrations 00400_scim.sql). Filters are
// parsed with github.com/scim2/filter-parser/v2 and evaluated here: equality
// on id/externalId/userName/displayName narrows the rows in SQL, everything
// else is evaluated in Go over the candidates, so every filter is answered
// correctly and the filters IdPs send are index lookups.
//
// Effects on the rest of Gatehouse (seats, sessions, admin rights) go through
// Hooks, called inside the transaction that makes the change.
package scim

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
)

// DefaultRateLimit is the per-token request budget when Service.RateLimit is
// left zero: a burst of 250,000 requests, refilled at 100 per second. The
// burst covers a healthy IdP's full sync of a 100,000-user directory even
// when it looks every user up before creating it (Entra, Okta), at whatever
// speed the server sustains; the refill rate is far above any IdP's
// incremental traffic. A client that never stops (a retry loop, a runaway
// script) spends the burst and is then held to 100/s. See docs/decisions.md.
var DefaultRateLimit = ratelimit.Rate{PerSecond: 100, Burst: 250_000}

const (
	defaultMaxBody    = 1 << 20 // 1 MiB
	defaultMaxResults = 1000
	// activityEvery throttles the last_request_at write per account and node.
	activityEvery = 10 * time.Second
)

// Service holds the SCIM server's dependencies and the methods the IdP
// configurator calls. Do not copy a Service after first use.
type Service struct {
	DB    *store.DB
	Now   func() time.Time // nil: time.Now
	Hooks Hooks            // nil: NopHooks
	// Logger receives internal errors; nil: slog.Default().
	Logger *slog.Logger
	// BaseURL is the public SCIM base URL, e.g. "https://gh.example.com/scim/v2",
	// used in meta.location and $ref. Empty: derived from each request.
	BaseURL string
	// RateLimit per token, shared by every node (ratelimit.Shared: no
	// database write per request). Zero value: DefaultRateLimit;
	// PerSecond < 0: no limit.
	RateLimit ratelimit.Rate
	// MaxBodyBytes caps request bodies (413 beyond). Zero: 1 MiB.
	MaxBodyBytes int64
	// MaxResults caps the page size of list responses. Zero: 1000.
	MaxResults int

	lastTouch sync.Map // account id → time.Time of the last last_request_at write
	limiter   ratelimit.Shared
	limitOnce sync.Once
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) hooks() Hooks {
	if s.Hooks != nil {
		return s.Hooks
	}
	return NopHooks{}
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Service) rateLimit() ratelimit.Rate {
	if s.RateLimit == (ratelimit.Rate{}) {
		return DefaultRateLimit
	}
	return s.RateLimit
}

// allow counts one request of a token against its rate limit.
func (s *Service) allow(ctx context.Context, tokenID string) (ratelimit.Decision, error) {
	// RateLimit is read once, at the first request.
	s.limitOnce.Do(func() { s.limiter.DB, s.limiter.Logger, s.limiter.Rate = s.DB, s.logger(), s.rateLimit() })
	return s.limiter.Allow(ctx, "scim:bucket:"+tokenID, s.now())
}

func (s *Service) maxBody() int64 {
	if s.MaxBodyBytes > 0 {
		return s.MaxBodyBytes
	}
	return defaultMaxBody
}

func (s *Service) maxResults() int {
	if s.MaxResults > 0 {
		return s.MaxResults
	}
	return defaultMaxResults
}

// Hooks let the rest of Gatehouse react to provisioning. Each is called
// inside the transaction that makes the change, after the change is written
// (queries through tx see the new state; when a group is deleted, its
// memberships are gone but the scim_groups row still exists during
// MembershipChanged, so the hook can tell which group it was); an error
// rolls the change back and the IdP gets a 500, so it retries.
type Hooks interface {
	// UserDeactivated: active went from true to false, or the user was
	// deleted (u is then the user as last stored). Revokes SSO seats and
	// ends sessions.
	UserDeactivated(ctx context.Context, tx *store.Tx, accountID string, u User) error
	// UserChanged: a user was created or any of its attributes changed
	// (deactivation included; not called on delete).
	UserChanged(ctx context.Context, tx *store.Tx, accountID string, u User) error
	// MembershipChanged: users (ids) were added to or removed from a group —
	// by the group's PATCH/PUT/POST, by deleting the group (all removed) or
	// by deleting a member user. Admin rights / Desktop Users eligibility.
	MembershipChanged(ctx context.Context, tx *store.Tx, accountID string, groupID string, added, removed []string) error
}

// NopHooks does nothing.
type NopHooks struct{}

func (NopHooks) UserDeactivated(context.Context, *store.Tx, string, User) error { return nil }
func (NopHooks) UserChanged(context.Context, *store.Tx, string, User) error     { return nil }
func (NopHooks) MembershipChanged(context.Context, *store.Tx, string, string, []string, []string) error {
	return nil
}

// User is a provisioned user as the rest of Gatehouse sees it.
type User struct {
	ID          string
	UserName    string
	ExternalID  string // Entra: the object id (matches the SAML objectidentifier)
	DisplayName string
	GivenName   string
	FamilyName  string
	Email       string // the primary email, else the first one
	Active      bool
	Created     time.Time
	Modified    time.Time
	// Attributes is the whole stored resource (canonical SCIM JSON without
	// id/meta), for anything the fields above do not carry.
	Attributes map[string]any
}

// Group is a provisioned group.
type Group struct {
	ID          string
	DisplayName string
	ExternalID  string // Entra/Ping/JumpCloud: the object id; Okta: often empty
	Created     time.Time
	Modified    time.Time
}

// record is one row of scim_users or scim_groups.
type record struct {
	id       string
	data     map[string]any
	created  time.Time
	modified time.Time
	version  int64
}

func (r *record) user() User {
	u := User{ID: r.id, Created: r.created, Modified: r.modified, Attributes: r.data, Active: true}
	u.UserName, _ = r.data["userName"].(string)
	u.ExternalID, _ = r.data["externalId"].(string)
	u.DisplayName, _ = r.data["displayName"].(string)
	if b, ok := r.data["active"].(bool); ok {
		u.Active = b
	}
	if n, ok := r.data["name"].(map[string]any); ok {
		u.GivenName, _ = n["givenName"].(string)
		u.FamilyName, _ = n["familyName"].(string)
	}
	u.Email = primaryValue(r.data["emails"])
	return u
}

func (r *record) group() Group {
	g := Group{ID: r.id, Created: r.created, Modified: r.modified}
	g.DisplayName, _ = r.data["displayName"].(string)
	g.ExternalID, _ = r.data["externalId"].(string)
	return g
}

// primaryValue returns the "value" of the primary element of a multi-valued
// attribute, else of the first element.
func primaryValue(v any) string {
	list, _ := v.([]any)
	first := ""
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		s, _ := m["value"].(string)
		if m["primary"] == true {
			return s
		}
		if first == "" {
			first = s
		}
	}
	return first
}

// etag is the weak entity tag of a resource version (meta.version).
func etag(version int64) string { return `W/"` + itoa(version) + `"` }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// matchesETag implements If-Match: a list of entity tags or "*". Weak and
// strong forms of our tag are both accepted (clients echo meta.version).
func matchesETag(header string, version int64) bool {
	header = strings.TrimSpace(header)
	if header == "" || header == "*" {
		return true
	}
	want := itoa(version)
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		t = strings.Trim(t, `"`)
		if t == want {
			return true
		}
	}
	return false
}

// nullable turns "" into SQL NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
