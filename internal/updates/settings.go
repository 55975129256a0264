package updates

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

// Update sources an organisation can give its installations.
const (
	SourceVendor = "vendor" // the vendor's channel feed (Gatehouse's)
	SourceLocal  = "local"  // a local update server: Gatehouse's mirror or the organisation's own URL
	SourceNone   = "none"   // no updates
)

// Check frequencies (the client's "Check for updates" values 0–3).
var frequencies = []string{"never", "daily", "weekly", "monthly"}

// FrequencyCode maps a frequency to the number Desktop stores (0 never, 1
// daily, 2 weekly, 3 monthly); -1 for an unknown one.
func FrequencyCode(f string) int {
	for i, v := range frequencies {
		if v == f {
			return i
		}
	}
	return -1
}

// Frequencies lists the check frequencies in order.
func Frequencies() []string { return append([]string(nil), frequencies...) }

// Settings are an organisation's update settings.
type Settings struct {
	AccountID      string
	Source         string
	Channel        string
	LocalURL       string // the organisation's own server; "" = Gatehouse's mirror
	CheckFrequency string
	AutoDownload   bool
	FeedToken      string
	UpdatedAt      store.Time
}

func newFeedToken() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// Settings returns the account's update settings, creating the defaults
// (vendor source, business channel, weekly checks) on first use so the
// account has its local feed URL.
func (s *Service) Settings(ctx context.Context, accountID string) (*Settings, error) {
	if st, err := s.settings(ctx, s.DB, accountID); err == nil {
		return st, nil
	} else if err != store.ErrNotFound {
		return nil, err
	}
	if err := s.ensureSettings(ctx, s.DB.Writer(), accountID); err != nil {
		return nil, err
	}
	return s.settings(ctx, s.DB.Writer(), accountID)
}

func (s *Service) ensureSettings(ctx context.Context, q store.Querier, accountID string) error {
	_, err := q.Exec(ctx, `INSERT INTO update_settings (account_id, feed_token, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (account_id) DO NOTHING`, accountID, newFeedToken(), store.At(s.now()))
	if err != nil {
		return fmt.Errorf("update settings: %w", err)
	}
	return nil
}

func (s *Service) settings(ctx context.Context, q store.Querier, accountID string) (*Settings, error) {
	var st Settings
	err := q.QueryRow(ctx, `SELECT account_id, source, channel, local_url, check_frequency, auto_download, feed_token, updated_at
		FROM update_settings WHERE account_id = ?`, accountID).
		Scan(&st.AccountID, &st.Source, &st.Channel, &st.LocalURL, &st.CheckFrequency, &st.AutoDownload, &st.FeedToken, &st.UpdatedAt)
	if err != nil {
		return nil, store.NotFound(err)
	}
	return &st, nil
}

// SettingsInput is the settings form.
type SettingsInput struct {
	Source         string
	Channel        string
	LocalURL       string
	CheckFrequency string
	AutoDownload   bool
}

// SaveSettings changes the account's update settings (account admins).
func (s *Service) SaveSettings(ctx context.Context, accountID string, in SettingsInput, actor audit.Actor) (*Settings, error) {
	in.Source = strings.TrimSpace(in.Source)
	switch in.Source {
	case SourceVendor, SourceLocal, SourceNone:
	default:
		return nil, fieldErr("source", "Choose where installations get updates: the vendor, a local update server, or none.")
	}
	if !ValidChannel(in.Channel) {
		return nil, fieldErr("channel", "Choose the business or the early channel.")
	}
	if FrequencyCode(in.CheckFrequency) < 0 {
		return nil, fieldErr("check_frequency", "Choose how often installations check: never, daily, weekly or monthly.")
	}
	in.LocalURL = strings.TrimSpace(in.LocalURL)
	if in.LocalURL != "" {
		u, err := CheckFileURL("local_url", in.LocalURL)
		if err != nil {
			return nil, fieldErr("local_url", "The local update server URL must be the https:// address of its update XML file.")
		}
		in.LocalURL = u
	}
	if in.Source != SourceLocal {
		in.LocalURL = ""
	}
	var out *Settings
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := s.ensureSettings(ctx, tx, accountID); err != nil {
			return err
		}
		before, err := s.settings(ctx, tx, accountID)
		if err != nil {
			return err
		}
		now := store.At(s.now())
		if _, err := tx.Exec(ctx, `UPDATE update_settings SET source = ?, channel = ?, local_url = ?, check_frequency = ?, auto_download = ?,
			updated_at = ? WHERE account_id = ?`, in.Source, in.Channel, in.LocalURL, in.CheckFrequency, in.AutoDownload, now, accountID); err != nil {
			return fmt.Errorf("save update settings: %w", err)
		}
		out = &Settings{AccountID: accountID, Source: in.Source, Channel: in.Channel, LocalURL: in.LocalURL, CheckFrequency: in.CheckFrequency,
			AutoDownload: in.AutoDownload, FeedToken: before.FeedToken, UpdatedAt: now}
		if s.SettingsChanged != nil {
			if err := s.SettingsChanged(ctx, tx, accountID); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "update.settings_changed", TargetType: "update_settings",
			TargetID: accountID, TargetLabel: "Update settings", Before: settingsAudit(before), After: settingsAudit(out)})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func settingsAudit(st *Settings) map[string]any {
	return map[string]any{"source": st.Source, "channel": st.Channel, "local_url": st.LocalURL,
		"check_frequency": st.CheckFrequency, "auto_download": st.AutoDownload}
}

// VendorPolicyValue is what Desktop's update policy preference holds for
// "updates from the vendor's default location" (the reference's value).
const VendorPolicyValue = "Parallels"

// NonePolicyValue turns updates off.
const NonePolicyValue = "None"

// ClientSettings is what an installation is told about updates (the check-in
// answer's update section).
type ClientSettings struct {
	// Source is vendor, local or none.
	Source string `json:"source"`
	// FeedURL is the feed the installation reads ("" for none).
	FeedURL string `json:"feed_url,omitempty"`
	// Policy is the value of Desktop's update policy preference: the
	// vendor value, a feed URL, or None. A URL or None locks the user's own
	// update controls.
	Policy string `json:"policy"`
	// Channel is business or early (vendor source).
	Channel string `json:"channel"`
	// CheckFrequency is never, daily, weekly or monthly; CheckFrequencyCode
	// the 0–3 number Desktop stores.
	CheckFrequency     string `json:"check_frequency"`
	CheckFrequencyCode int    `json:"check_frequency_code"`
	AutoDownload       bool   `json:"download_automatically"`
	// UserControlsLocked: the user cannot change update settings or check
	// manually (local server or none).
	UserControlsLocked bool `json:"user_controls_locked"`
}

// ClientSettingsFor returns the update settings an account's installations
// must apply. The check-in answer calls it; it only reads (an account
// without saved settings gets the defaults).
func (s *Service) ClientSettingsFor(ctx context.Context, accountID string) (ClientSettings, error) {
	st, err := s.settings(ctx, s.DB, accountID)
	if err == store.ErrNotFound {
		st = &Settings{Source: SourceVendor, Channel: ChannelBusiness, CheckFrequency: "weekly"}
	} else if err != nil {
		return ClientSettings{}, err
	}
	return s.clientSettings(st), nil
}

func (s *Service) clientSettings(st *Settings) ClientSettings {
	cs := ClientSettings{Source: st.Source, Channel: st.Channel, CheckFrequency: st.CheckFrequency,
		CheckFrequencyCode: FrequencyCode(st.CheckFrequency), AutoDownload: st.AutoDownload}
	switch st.Source {
	case SourceVendor:
		cs.FeedURL = s.ChannelFeedURL(st.Channel)
		cs.Policy = VendorPolicyValue
		if st.Channel == ChannelEarly {
			// Like the reference's switch to the earlier location: the
			// early feed's URL, which also locks the user's controls.
			cs.Policy, cs.UserControlsLocked = cs.FeedURL, true
		}
	case SourceLocal:
		cs.FeedURL = st.LocalURL
		if cs.FeedURL == "" {
			cs.FeedURL = s.LocalFeedURL(st.FeedToken)
		}
		cs.Policy, cs.UserControlsLocked = cs.FeedURL, true
	case SourceNone:
		cs.Policy, cs.UserControlsLocked = NonePolicyValue, true
	}
	return cs
}
