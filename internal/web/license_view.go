package web

import (
	"strconv"
	"time"

	"gatehouse/internal/license"
)

// What the licensing templates show. The templates have no licensing
// functions of their own, so labels are methods here.

func nowOr(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

// subView is a product card / the head of Subscription Details.
type subView struct {
	license.Subscription
	State string
}

func newSubView(s license.Subscription, now time.Time) *subView {
	return &subView{Subscription: s, State: s.State(now)}
}

func (v *subView) EditionLabel() string { return license.EditionLabel(v.Edition) }
func (v *subView) ModelLabel() string   { return license.ModelLabel(v.Model) }
func (v *subView) SharedFree() int      { return max(0, v.Subscription.SharedFree()) }
func (v *subView) Free() int            { return max(0, v.Seats-v.Used) }

// Title is the name the admin gave the license, else its edition.
func (v *subView) Title() string {
	if v.Name != "" {
		return v.Name
	}
	return v.EditionLabel()
}

// StateLabel and StateClass show the state as a badge.
func (v *subView) StateLabel() string {
	switch v.State {
	case license.StateActive:
		return "Active"
	case license.StateSuspended:
		return "Suspended"
	case license.StateExpired:
		return "Expired"
	case license.StatePurged:
		return "Ended (settings purged)"
	}
	return v.State
}

func (v *subView) StateClass() string {
	switch v.State {
	case license.StateActive:
		return "ok"
	case license.StateSuspended:
		return "warn"
	}
	return "err"
}

// UsedPercent is the filled share of the seat bar.
func (v *subView) UsedPercent() int {
	if v.Seats <= 0 {
		return 0
	}
	return min(100, v.Used*100/v.Seats)
}

// keyView is a row of the License Keys table.
type keyView struct {
	license.Key
	Revealed string // the full key, after an admin asked to see it
}

func (k *keyView) KindLabel() string { return license.KindLabel(k.Kind) }
func (k *keyView) IsPrimary() bool   { return k.Kind == license.KindPrimary }

// DisplayName names the key in tables and headings.
func (k *keyView) DisplayName() string {
	if k.Name != "" {
		return k.Name
	}
	return k.KindLabel() + " key"
}

// SeatsLabel is the key's allotment as the table shows it.
func (k *keyView) SeatsLabel() string {
	switch k.Kind {
	case license.KindPrimary:
		return "shared pool"
	case license.KindDynamic:
		return "up to " + itoa(k.Seats)
	}
	return itoa(k.Seats) + " reserved"
}

func keyViews(keys []license.Key) []*keyView {
	out := make([]*keyView, len(keys))
	for i := range keys {
		out[i] = &keyView{Key: keys[i]}
	}
	return out
}

// computerView is a row of Registered Computers.
type computerView struct {
	license.Computer
}

func (c *computerView) MethodLabel() string {
	switch c.Method {
	case license.MethodKey:
		return "License key"
	case license.MethodInvitation:
		return "Invitation"
	case license.MethodSSO:
		return "SSO"
	}
	return c.Method
}

func (c *computerView) KeyLabel() string {
	if c.KeyName != "" {
		return c.KeyName + " (…" + c.KeyLast + ")"
	}
	return "…" + c.KeyLast
}

// hiddenField carries a value through a confirmation step.
type hiddenField struct{ Name, Value string }

// confirmView is the "are you sure" page of an action that needs explicit
// confirmation.
type confirmView struct {
	Heading string
	Message string
	Items   []string // what the action touches, when it helps to list it
	Action  string   // form action
	Fields  []hiddenField
	Button  string
	Danger  bool
	Cancel  string
}

func itoa(n int) string { return strconv.Itoa(n) }
