package portal

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// The policy form shows, before saving, what the change will do: how many
// installations and VMs each change reaches at their next check-in, and
// which settings some VMs will ignore. It is computed with Effective from
// the inventory, before and after, so it is exact: an installation is
// "reached" when its effective settings differ, a VM when its own do.

// HostFacts is one installation of the inventory as the preview needs it.
type HostFacts struct {
	ID    string
	KeyID string
	CPU   string
	VMs   []VMFacts
}

// PreviewInput is the state before and after the change.
type PreviewInput struct {
	Enterprise  bool
	Before      *Policy // nil for a new policy
	BeforeImage *Image
	After       *Policy
	AfterImage  *Image
	Profiles    map[string]*Profile // by key id (nil: Default)
	// Hosts are the installations of every group of Before and After.
	Hosts []HostFacts
}

// Change is one change of the form and its reach.
type Change struct {
	What          string
	Installations int
	VMs           int
}

// Ignored counts VMs that will ignore a setting (it does not apply to
// their guest OS).
type Ignored struct {
	Setting SettingDef
	Guest   Guest
	VMs     int
}

// Text is the preview's sentence for people.
func (i Ignored) Text() string {
	return fmt.Sprintf("%s ignored on %d %s", i.Setting.Short, i.VMs, Guest{OS: i.Guest.OS, CPU: i.Guest.CPU}.labelN(i.VMs))
}

func (g Guest) labelN(n int) string {
	if n == 1 {
		return strings.Replace(g.Label(), " VMs", " VM", 1)
	}
	return g.Label()
}

// Preview is the effect of a policy change.
type Preview struct {
	Installations int // reached by the whole change
	VMs           int
	// In the groups before or after (the denominators).
	TotalInstallations int
	TotalVMs           int
	Changes            []Change
	Ignored            []Ignored
}

// reach counts the installations and VMs whose effective settings differ
// between two policy versions.
func reach(in PreviewInput, before, after *Policy, beforeImg, afterImg *Image) (hosts, vms int) {
	polFor := func(p *Policy, key string) *Policy {
		if p == nil {
			return nil
		}
		for _, g := range p.Groups {
			if g == key {
				return p
			}
		}
		return nil
	}
	for _, h := range in.Hosts {
		pb, pa := polFor(before, h.KeyID), polFor(after, h.KeyID)
		if pb == nil && pa == nil {
			continue
		}
		eb := Effective(EffectiveInput{Enterprise: in.Enterprise, KeyID: h.KeyID, CPU: h.CPU, Policy: pb, Image: beforeImg, Profile: in.Profiles[h.KeyID], VMs: h.VMs})
		ea := Effective(EffectiveInput{Enterprise: in.Enterprise, KeyID: h.KeyID, CPU: h.CPU, Policy: pa, Image: afterImg, Profile: in.Profiles[h.KeyID], VMs: h.VMs})
		changed := false
		for i := range eb.VMs {
			if !sameVM(eb.VMs[i], ea.VMs[i]) {
				vms++
				changed = true
			}
		}
		eb.VMs, ea.VMs = nil, nil
		if changed || eb.Hash() != ea.Hash() {
			hosts++
		}
	}
	return hosts, vms
}

func sameVM(a, b VMEffective) bool {
	if a.Set != b.Set || len(a.Applied) != len(b.Applied) || len(a.Ignored) != len(b.Ignored) {
		return false
	}
	for k, v := range a.Applied {
		if b.Applied[k] != v {
			return false
		}
	}
	for i := range a.Ignored {
		if a.Ignored[i] != b.Ignored[i] {
			return false
		}
	}
	return true
}

// ComputePreview computes the effect of changing in.Before into in.After.
func ComputePreview(in PreviewInput) *Preview {
	out := &Preview{}
	for _, h := range in.Hosts {
		out.TotalInstallations++
		out.TotalVMs += len(h.VMs)
	}
	before := in.Before
	if before == nil {
		before = &Policy{ID: in.After.ID, GoldenImage: DefaultSet(), Other: DefaultSet()}
	}
	after := in.After
	out.Installations, out.VMs = reach(in, in.Before, after, in.BeforeImage, in.AfterImage)

	// Each change alone, applied to the policy as it was.
	step := func(what string, mod func(p *Policy), img *Image) {
		p := clonePolicy(before)
		mod(p)
		base := in.Before
		if base == nil {
			// A new policy: every change is measured on top of an empty
			// policy on the same groups.
			base = clonePolicy(before)
			base.Groups = after.Groups
		}
		h, v := reach(in, base, p, in.BeforeImage, img)
		out.Changes = append(out.Changes, Change{What: what, Installations: h, VMs: v})
	}
	if in.Before == nil {
		out.Changes = append(out.Changes, Change{What: "New policy", Installations: out.Installations, VMs: out.VMs})
	} else {
		added, removed := diffGroups(before.Groups, after.Groups)
		if len(added) > 0 {
			step(fmt.Sprintf("%d %s added", len(added), pluralWord(len(added), "group", "groups")), func(p *Policy) { p.Groups = union(p.Groups, added) }, in.BeforeImage)
		}
		if len(removed) > 0 {
			step(fmt.Sprintf("%d %s removed", len(removed), pluralWord(len(removed), "group", "groups")), func(p *Policy) { p.Groups = minus(p.Groups, removed) }, in.BeforeImage)
		}
		if before.Name != after.Name {
			step("Name", func(p *Policy) { p.Name = after.Name }, in.BeforeImage)
		}
		if before.ImageID != after.ImageID || imageChanged(in.BeforeImage, in.AfterImage) {
			step("Golden image", func(p *Policy) { p.ImageID = after.ImageID }, in.AfterImage)
		}
		for _, c := range ControlDefs {
			if before.Controls.Get(c.Key) != after.Controls.Get(c.Key) {
				k := c.Key
				step("Security control: "+c.Label, func(p *Policy) { p.Controls.Set(k, after.Controls.Get(k)) }, in.BeforeImage)
			}
		}
		sets := []struct {
			name string
			get  func(*Policy) *SettingSet
		}{
			{"VMs from the golden image", func(p *Policy) *SettingSet { return &p.GoldenImage }},
			{"VMs from other sources", func(p *Policy) *SettingSet { return &p.Other }},
		}
		for _, s := range sets {
			sb, sa := s.get(before), s.get(after)
			if sb.On != sa.On {
				get := s.get
				word := "off"
				if sa.On {
					word = "on"
				}
				step(s.name+": settings switched "+word, func(p *Policy) { get(p).On = sa.On }, in.BeforeImage)
			}
			if !sa.On {
				continue
			}
			for _, d := range Settings {
				if sb.Value(d.Key) != sa.Value(d.Key) {
					get, key, v := s.get, d.Key, sa.Value(d.Key)
					step(s.name+": "+d.Label+" → "+d.ValueLabel(v), func(p *Policy) {
						get(p).On = true
						get(p).Values[key] = v
					}, in.BeforeImage)
				}
			}
		}
	}

	// Settings the VMs of the after-policy's groups will ignore.
	type ig struct {
		key string
		g   Guest
	}
	counts := map[ig]int{}
	inAfter := map[string]bool{}
	for _, g := range after.Groups {
		inAfter[g] = true
	}
	for _, h := range in.Hosts {
		if !inAfter[h.KeyID] || !in.Enterprise {
			continue
		}
		e := Effective(EffectiveInput{Enterprise: true, KeyID: h.KeyID, CPU: h.CPU, Policy: after, Image: in.AfterImage, VMs: h.VMs})
		os := map[string]string{}
		for _, v := range h.VMs {
			os[v.ID] = v.OS
		}
		for _, v := range e.VMs {
			for _, k := range v.Ignored {
				counts[ig{k, Guest{OS: os[v.VMID], CPU: h.CPU}}]++
			}
		}
	}
	for k, n := range counts {
		d, _ := SettingByKey(k.key)
		out.Ignored = append(out.Ignored, Ignored{Setting: d, Guest: k.g, VMs: n})
	}
	order := map[string]int{}
	for i, d := range Settings {
		order[d.Key] = i
	}
	sort.Slice(out.Ignored, func(i, j int) bool {
		a, b := out.Ignored[i], out.Ignored[j]
		if order[a.Setting.Key] != order[b.Setting.Key] {
			return order[a.Setting.Key] < order[b.Setting.Key]
		}
		if a.Guest.OS != b.Guest.OS {
			return a.Guest.OS < b.Guest.OS
		}
		return a.Guest.CPU < b.Guest.CPU
	})
	return out
}

func imageChanged(a, b *Image) bool {
	if a == nil || b == nil {
		return (a == nil) != (b == nil)
	}
	return a.ID != b.ID || a.Name != b.Name || a.Description != b.Description || a.AppleSilicon != b.AppleSilicon || a.Intel != b.Intel
}

func clonePolicy(p *Policy) *Policy {
	c := *p
	c.Groups = append([]string(nil), p.Groups...)
	c.GoldenImage = cloneSet(p.GoldenImage)
	c.Other = cloneSet(p.Other)
	return &c
}

func cloneSet(s SettingSet) SettingSet {
	c := SettingSet{On: s.On, Values: map[string]string{}}
	for k, v := range s.Values {
		c.Values[k] = v
	}
	return c
}

func diffGroups(before, after []string) (added, removed []string) {
	return minus(after, before), minus(before, after)
}

func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

func union(a, b []string) []string {
	out := append([]string(nil), a...)
	return append(out, minus(b, a)...)
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// HostLoader loads the inventory's installations of the given keys.
type HostLoader func(ctx context.Context, accountID string, keyIDs []string) ([]HostFacts, error)

// PreviewPolicy computes the effect of saving in as policy id ("" for a
// new one) from the inventory (s.Hosts), without saving anything.
func (s *Service) PreviewPolicy(ctx context.Context, c Caller, id string, in PolicyInput) (*Preview, error) {
	if s.Hosts == nil {
		return nil, fmt.Errorf("portal: no inventory to preview with")
	}
	sc, err := s.scopeOf(ctx, s.DB, c)
	if err != nil {
		return nil, err
	}
	in, err = in.validate()
	if err != nil {
		return nil, err
	}
	var before *Policy
	if id != "" {
		if before, err = getPolicy(ctx, s.DB, c.AccountID, id); err != nil {
			return nil, err
		}
		if !s.inScope(sc, c, before) {
			return nil, ErrNotFound
		}
	}
	groups, err := s.groupsByID(ctx, s.DB, c.AccountID)
	if err != nil {
		return nil, err
	}
	var keep []string
	for _, g := range in.Groups {
		if grp, ok := groups[g]; ok && sc.has(g) && grp.Enterprise {
			keep = append(keep, g)
		}
	}
	after := &Policy{ID: id, AccountID: c.AccountID, Name: in.Name, Description: in.Description, ImageID: in.ImageID, Controls: in.Controls,
		GoldenImage: in.GoldenImage, Other: in.Other, Groups: keep}
	pin := PreviewInput{Enterprise: true, Before: before, After: after, Profiles: map[string]*Profile{}}
	if before != nil && before.ImageID != "" {
		if pin.BeforeImage, err = getImage(ctx, s.DB, c.AccountID, before.ImageID); err != nil {
			return nil, err
		}
	}
	if in.ImageID != "" {
		if pin.AfterImage, err = getImage(ctx, s.DB, c.AccountID, in.ImageID); err == ErrNotFound {
			after.ImageID = ""
		} else if err != nil {
			return nil, err
		}
	}
	keys := union(keep, nil)
	if before != nil {
		keys = union(keys, before.Groups)
	}
	for _, k := range keys {
		if g := groups[k]; g != nil && g.ProfileID != "" {
			if pin.Profiles[k], err = getProfile(ctx, s.DB, c.AccountID, g.ProfileID); err != nil {
				return nil, err
			}
		}
	}
	if len(keys) > 0 {
		if pin.Hosts, err = s.Hosts(ctx, c.AccountID, keys); err != nil {
			return nil, err
		}
	}
	return ComputePreview(pin), nil
}
