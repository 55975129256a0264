package updates

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/updates/feed"
)

// FeedDoc is a generated feed with what conditional GETs need.
type FeedDoc struct {
	Body         []byte
	ETag         string // strong, quoted
	LastModified time.Time
}

func newDoc(body []byte, lm time.Time) *FeedDoc {
	sum := sha256.Sum256(body)
	return &FeedDoc{Body: body, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`, LastModified: lm.UTC().Truncate(time.Second)}
}

// Feeds are generated when releases change, not per request. Each node
// keeps the last document per feed; it is reused while the database's feed
// generation (bumped in every transaction that changes releases or an
// organisation's mirrors) is unchanged and no scheduled business promotion
// has come due. The generation is read at most once per Config.Recheck per
// feed, so a change made on another node shows within that time; changes
// through this node drop the cache at once.
type feedCache struct {
	mu      sync.RWMutex
	entries map[string]*feedEntry
}

type feedEntry struct {
	doc        *FeedDoc
	gen        int64
	orgGen     int64
	accountID  string
	validUntil time.Time // a scheduled promotion changes the feed then
	checked    atomic.Int64
}

func (c *feedCache) get(key string) *feedEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.entries[key]
}

func (c *feedCache) put(key string, e *feedEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[key] = e
}

func (c *feedCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

func (e *feedEntry) fresh(now time.Time, recheck time.Duration) bool {
	if !e.validUntil.IsZero() && !now.Before(e.validUntil) {
		return false
	}
	return now.UnixNano()-e.checked.Load() < int64(recheck)
}

// ChannelFeed returns the feed of the vendor channel early or business.
func (s *Service) ChannelFeed(ctx context.Context, channel string) (*FeedDoc, error) {
	return s.channelFeed(ctx, channel, "", nil)
}

// FeedFor returns a channel feed narrowed by filter, generated on each call
// and not cached (for filters that have no cache key).
func (s *Service) FeedFor(ctx context.Context, channel string, filter feed.Filter) (*FeedDoc, error) {
	if filter == nil {
		return s.ChannelFeed(ctx, channel)
	}
	return s.channelFeed(ctx, channel, "", filter)
}

// InstallationPolicy is what of an installation's policy shapes its feed.
type InstallationPolicy struct {
	// NoMajorUpgrade is the policy "Do not allow upgrading to the next
	// major version"; InstalledMajor the installation's major version.
	NoMajorUpgrade bool
	InstalledMajor int
}

// InstallationFeed is the per-installation feed: the channel feed, without
// major upgrades when the policy forbids them (minor updates of the
// installed major version stay). It is cached per channel and installed
// major version like the channel feeds, so it changes only when releases
// or the policy change. The check-in answer (or a feed URL per
// installation) calls it with the installation's policy.
func (s *Service) InstallationFeed(ctx context.Context, channel string, p InstallationPolicy) (*FeedDoc, error) {
	if !p.NoMajorUpgrade {
		return s.ChannelFeed(ctx, channel)
	}
	return s.channelFeed(ctx, channel, fmt.Sprintf("major<=%d", p.InstalledMajor), feed.NoMajorUpgrade(p.InstalledMajor))
}

// channelFeed builds (or takes from the cache) a channel's feed; variant
// names the filter for the cache ("" with a filter: not cached).
func (s *Service) channelFeed(ctx context.Context, channel, variant string, filter feed.Filter) (*FeedDoc, error) {
	if !ValidChannel(channel) {
		return nil, ErrNotFound
	}
	cacheable := filter == nil || variant != ""
	key := "channel:" + channel + ":" + variant
	now := s.now()
	var e *feedEntry
	if cacheable {
		if e = s.cache.get(key); e != nil && e.fresh(now, s.Config.Recheck) {
			return e.doc, nil
		}
	}
	// Read the generation first: a change committed while the feed is
	// built makes the stored generation stale, never the document.
	var gen int64
	var changed store.Time
	if err := s.DB.QueryRowPrepared(ctx, `SELECT generation, changed_at FROM update_feed_state WHERE id = 1`).Scan(&gen, &changed); err != nil {
		return nil, fmt.Errorf("feed generation: %w", err)
	}
	if e != nil && e.gen == gen && (e.validUntil.IsZero() || now.Before(e.validUntil)) {
		e.checked.Store(now.UnixNano())
		return e.doc, nil
	}
	rs, err := queryReleases(ctx, s.DB, `WHERE published_at IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	var offered, hist []feed.Release
	lm := changed.Time
	var next time.Time
	for i := range rs {
		r := &rs[i]
		hist = append(hist, r.feedRelease(""))
		if r.InChannel(channel, now) {
			offered = append(offered, r.feedRelease(s.FileURLFor(r)))
		}
		if !r.BusinessAt.IsZero() {
			if !r.BusinessAt.After(now) {
				if r.BusinessAt.After(lm) {
					lm = r.BusinessAt.Time
				}
			} else if r.State == StatePublished && channel == ChannelBusiness && (next.IsZero() || r.BusinessAt.Before(next)) {
				next = r.BusinessAt.Time
			}
		}
	}
	doc := newDoc(feed.Generate(offered, feed.Options{ProductName: s.Config.ProductName, Filter: filter, History: hist}), lm)
	if cacheable {
		ne := &feedEntry{doc: doc, gen: gen, validUntil: next}
		ne.checked.Store(now.UnixNano())
		s.cache.put(key, ne)
	}
	return doc, nil
}

// DownloadName is the file name a release's file is served under: the
// hosted file's name, or the last segment of its URL.
func (r *Release) DownloadName() string {
	if r.FileName != "" {
		return r.FileName
	}
	if u, err := url.Parse(r.FileURL); err == nil {
		if b := path.Base(u.Path); b != "" && b != "/" && b != "." && fileNameRe.MatchString(b) {
			return b
		}
	}
	return fmt.Sprintf("Desktop-%s-%d.dmg", r.Version(), r.Build)
}

// LocalFeed returns an organisation's local update server feed by its feed
// token: the releases it mirrors that are stored, verified and still
// published, with file paths on its own URL.
func (s *Service) LocalFeed(ctx context.Context, token string) (*FeedDoc, error) {
	if !validToken(token) {
		return nil, ErrNotFound
	}
	key := "org:" + token
	now := s.now()
	e := s.cache.get(key)
	if e != nil && e.fresh(now, s.Config.Recheck) {
		return e.doc, nil
	}
	var accountID string
	var orgGen, gen int64
	var orgChanged, changed store.Time
	err := s.DB.QueryRowPrepared(ctx, `SELECT s.account_id, s.feed_generation, s.feed_changed_at, f.generation, f.changed_at
		FROM update_settings s, update_feed_state f WHERE s.feed_token = ? AND f.id = 1`, token).
		Scan(&accountID, &orgGen, &orgChanged, &gen, &changed)
	if err != nil {
		return nil, store.NotFound(err)
	}
	if e != nil && e.gen == gen && e.orgGen == orgGen && e.accountID == accountID {
		e.checked.Store(now.UnixNano())
		return e.doc, nil
	}
	hist, err := s.history(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	rs, err := queryReleases(ctx, s.DB, `WHERE state = ? AND id IN (SELECT release_id FROM update_mirrors WHERE account_id = ? AND state = 'ready')`,
		StatePublished, accountID)
	if err != nil {
		return nil, err
	}
	offered := make([]feed.Release, 0, len(rs))
	for i := range rs {
		offered = append(offered, rs[i].feedRelease(s.localFileURL(token, &rs[i])))
	}
	lm := changed.Time
	if orgChanged.After(lm) {
		lm = orgChanged.Time
	}
	doc := newDoc(feed.Generate(offered, feed.Options{ProductName: s.Config.ProductName, History: hist}), lm)
	ne := &feedEntry{doc: doc, gen: gen, orgGen: orgGen, accountID: accountID}
	ne.checked.Store(now.UnixNano())
	s.cache.put(key, ne)
	return doc, nil
}

func (s *Service) localFileURL(token string, r *Release) string {
	return s.Config.PublicURL + "/updates/local/" + token + "/files/" + r.ID + "/" + url.PathEscape(r.DownloadName())
}

// LocalFeedURL is the public URL of an organisation's local feed.
func (s *Service) LocalFeedURL(token string) string {
	return s.Config.PublicURL + "/updates/local/" + token + "/updates.xml"
}

// ChannelFeedURL is the public URL of a vendor channel's feed.
func (s *Service) ChannelFeedURL(channel string) string {
	return s.Config.PublicURL + "/updates/channels/" + channel + "/updates.xml"
}

func validToken(t string) bool {
	if len(t) != 32 {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
