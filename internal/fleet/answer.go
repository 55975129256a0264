package fleet

import (
	"context"

	"gatehouse/internal/store"
)

// Installation is who is checking in, as the sections provider sees it.
type Installation struct {
	ID        string // license activation id
	AccountID string
	KeyID     string
	Method    string // key, invitation, sso
	Edition   string // business, enterprise
	CPU       string // intel, apple_silicon ("" until reported)
	// DesktopVersion is the Desktop version last reported.
	DesktopVersion string
	// VMCount is how many VMs the installation reports now (an installation
	// with none is offered the golden image again).
	VMCount int
}

// Sections is what applies to an installation now: the parts of the answer
// the Management Portal (policies, golden images, configuration profiles,
// update settings) fills in. Empty sections are sent as empty objects and
// lists, so that a client can tell "nothing applies" from an old server.
type Sections struct {
	// EffectiveSettings: the policy and VM settings in force for this
	// installation (portal: policies).
	EffectiveSettings EffectiveSettings `json:"effective_settings"`
	// ImageOffer: the golden image to offer for the host's architecture, or
	// nil (portal: golden images, or a profile's VM payload).
	ImageOffer *ImageOffer `json:"image_offer"`
	// ProfilePayloads: the enabled payloads of the configuration profile
	// applied to the installation's license key (portal: profiles).
	ProfilePayloads []ProfilePayload `json:"profile_payloads"`
	// UpdateSettings: how the installation updates (portal/updates).
	UpdateSettings UpdateSettings `json:"update_settings"`
}

// EffectiveSettings are policy and VM settings as name → value.
type EffectiveSettings struct {
	Policy     map[string]any `json:"policy"`
	VMSettings map[string]any `json:"vm_settings"`
}

// ImageOffer is a golden image the client offers to download.
type ImageOffer struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Description  string `json:"description,omitempty"`
	Architecture string `json:"architecture"`
	URL          string `json:"url"`
	SHA256       string `json:"sha256"`
	SizeBytes    int64  `json:"size_bytes,omitempty"`
}

// ProfilePayload is one enabled configuration-profile payload.
type ProfilePayload struct {
	Type     string         `json:"type"`
	Settings map[string]any `json:"settings"`
}

// UpdateSettings are the update settings in force ("" / false: the
// client's own defaults).
type UpdateSettings struct {
	Channel           string `json:"channel,omitempty"`
	UpdateURL         string `json:"update_url,omitempty"`
	AllowMajorUpgrade bool   `json:"allow_major_upgrade,omitempty"`
	Managed           bool   `json:"managed,omitempty"`
}

// SectionsProvider builds the sections of an installation's answer. It is
// called only on a full answer (never on an "unchanged" check-in) with the
// transaction of the check-in. Whoever changes what it returns must call
// BumpSettings in the same transaction, or clients that have the previous
// answer keep being told "unchanged".
type SectionsProvider interface {
	Sections(ctx context.Context, q store.Querier, inst Installation) (Sections, error)
}

// SectionsFunc adapts a function to SectionsProvider.
type SectionsFunc func(ctx context.Context, q store.Querier, inst Installation) (Sections, error)

// Sections calls f.
func (f SectionsFunc) Sections(ctx context.Context, q store.Querier, inst Installation) (Sections, error) {
	return f(ctx, q, inst)
}

// normalize turns nil maps and lists into empty ones (the wire shape).
func (x *Sections) normalize() {
	if x.EffectiveSettings.Policy == nil {
		x.EffectiveSettings.Policy = map[string]any{}
	}
	if x.EffectiveSettings.VMSettings == nil {
		x.EffectiveSettings.VMSettings = map[string]any{}
	}
	if x.ProfilePayloads == nil {
		x.ProfilePayloads = []ProfilePayload{}
	}
	for i := range x.ProfilePayloads {
		if x.ProfilePayloads[i].Settings == nil {
			x.ProfilePayloads[i].Settings = map[string]any{}
		}
	}
}
