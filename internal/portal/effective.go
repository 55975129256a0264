package portal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
)

// An installation's effective settings are computed by one pure function,
// Effective, from what the database holds about it: its group (license
// key), that group's policy and the policy's golden image, the profile
// applied to the key, and its VMs. The check-in answer and the policy
// form's effect preview both use it, so what the preview promises is what
// the installations get.

// VMFacts is what the inventory knows about one VM.
type VMFacts struct {
	ID       string
	OS       string // guest OS family (NormalizeOS)
	SourceID string // the golden image it was provisioned from; "" for other sources
}

// EffectiveInput is everything Effective depends on.
type EffectiveInput struct {
	Enterprise bool    // policies and golden images exist only on Enterprise
	KeyID      string  // the installation's group
	CPU        string  // CPUAppleSilicon or CPUIntel
	Policy     *Policy // the group's policy, nil when none
	Image      *Image  // the policy's golden image, nil when none
	Profile    *Profile
	VMs        []VMFacts
}

// ImageOffer is an image the installation is offered for its CPU.
type ImageOffer struct {
	Source      string `json:"source"` // "policy" (golden image) or "profile"
	ImageID     string `json:"image_id,omitempty"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	URL         string `json:"url"`
	SHA256      string `json:"sha256"`
}

// ProductUpdates is the Product Updates payload the installation applies.
type ProductUpdates struct {
	Managed    bool `json:"managed"`
	AllowMajor bool `json:"allow_major"`
}

// VMEffective is what applies to one VM.
type VMEffective struct {
	VMID    string            `json:"vm_id"`
	Set     string            `json:"set"`                // "golden_image", "other" or "" (no policy set is on)
	Applied map[string]string `json:"settings,omitempty"` // setting → value, only those that apply to its guest OS
	Ignored []string          `json:"ignored,omitempty"`  // settings of the set that do not apply to it
}

// EffectiveSettings is the policy part of an installation's check-in
// answer.
type EffectiveSettings struct {
	KeyID       string          `json:"group"`
	PolicyID    string          `json:"policy_id,omitempty"`
	PolicyName  string          `json:"policy_name,omitempty"`
	Controls    Controls        `json:"security_controls"`
	Images      []ImageOffer    `json:"images"`
	Updates     *ProductUpdates `json:"product_updates,omitempty"`
	ProfileID   string          `json:"profile_id,omitempty"`
	ProfileName string          `json:"profile_name"`
	VMs         []VMEffective   `json:"vms"`
}

// Set names.
const (
	SetGoldenImage = "golden_image"
	SetOther       = "other"
)

// Effective computes an installation's effective settings. Precedence on
// Enterprise: the policy's controls and its golden image win; the profile
// still delivers what a policy cannot (an image for the CPU when the
// policy has none, or a second image for it), and its Product Updates
// payload, except that a policy forbidding major upgrades forbids them.
func Effective(in EffectiveInput) EffectiveSettings {
	out := EffectiveSettings{KeyID: in.KeyID, ProfileName: DefaultProfileName, Images: []ImageOffer{}, VMs: []VMEffective{}}
	pol := in.Policy
	if !in.Enterprise {
		pol = nil
	}
	var gi *Image
	if pol != nil {
		out.PolicyID, out.PolicyName, out.Controls = pol.ID, pol.Name, pol.Controls
		if in.Image != nil && in.Image.ID == pol.ImageID {
			gi = in.Image
		}
	}
	if gi != nil {
		if a := gi.Arch(in.CPU); a.Enabled {
			out.Images = append(out.Images, ImageOffer{Source: "policy", ImageID: gi.ID, Name: gi.Name, Description: gi.Description, URL: a.URL, SHA256: a.SHA256})
		}
	}
	if pr := in.Profile; pr != nil {
		out.ProfileID, out.ProfileName = pr.ID, pr.Name
		if p := pr.Payload(in.CPU); p.Enabled {
			dup := false
			for _, o := range out.Images {
				dup = dup || o.SHA256 == p.SHA256
			}
			if !dup {
				out.Images = append(out.Images, ImageOffer{Source: "profile", Name: p.Name, Description: p.Description, URL: p.URL, SHA256: p.SHA256})
			}
		}
		if pr.UpdatesEnabled {
			out.Updates = &ProductUpdates{Managed: true, AllowMajor: pr.UpdatesAllowMajor}
		}
	}
	if pol != nil && pol.Controls.NoMajorUpgrade {
		out.Updates = &ProductUpdates{Managed: true, AllowMajor: false}
	}
	for _, vm := range in.VMs {
		e := VMEffective{VMID: vm.ID}
		if pol != nil {
			set := pol.Other
			e.Set = SetOther
			if vm.SourceID != "" && vm.SourceID == pol.ImageID {
				set, e.Set = pol.GoldenImage, SetGoldenImage
			}
			if set.On {
				e.Applied, e.Ignored = set.For(Guest{OS: vm.OS, CPU: in.CPU})
			} else {
				e.Set = ""
			}
		}
		out.VMs = append(out.VMs, e)
	}
	sort.Slice(out.VMs, func(i, j int) bool { return out.VMs[i].VMID < out.VMs[j].VMID })
	return out
}

// Hash is a digest of the effective settings: the check-in answer's hash
// changes exactly when something the installation applies changed (names
// shown to people included; ids and timestamps of unrelated rows not).
func (e EffectiveSettings) Hash() string {
	b, err := json.Marshal(e)
	if err != nil {
		panic("portal: marshal effective settings: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
