package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"gatehouse/internal/portal"
)

// policySteps are the steps of the policy form, in order.
var policySteps = []struct {
	Num        int
	Key, Label string
}{
	{1, "general", "General"}, {2, "image", "Golden Image"}, {3, "controls", "Security Controls"}, {4, "settings", "VM Settings"},
}

// policyStepOf says on which step a form field is shown.
func policyStepOf(field string) string {
	switch {
	case field == "name", field == "description", field == "group", field == "groups":
		return "general"
	case field == "image":
		return "image"
	case strings.HasPrefix(field, "control_"):
		return "controls"
	case strings.HasPrefix(field, "gi_"), strings.HasPrefix(field, "other_"):
		return "settings"
	}
	return ""
}

func validStep(s string) bool {
	for _, st := range policySteps {
		if st.Key == s {
			return true
		}
	}
	return false
}

// carriedField carries a value of another step through the current one.
type carriedField struct{ Name, Value string }

// policyHidden lists the form's values that are not on step current, so
// that moving between steps (without JavaScript) keeps everything typed.
func policyHidden(form url.Values, current string) []carriedField {
	var out []carriedField
	add := func(name string) {
		if policyStepOf(name) == current {
			return
		}
		for _, v := range form[name] {
			out = append(out, carriedField{name, v})
		}
	}
	add("name")
	add("description")
	add("group")
	add("image")
	for _, c := range portal.ControlDefs {
		add("control_" + c.Key)
	}
	for _, set := range []string{"gi", "other"} {
		add(set + "_on")
		for _, d := range portal.Settings {
			add(set + "_" + d.Key)
		}
	}
	return out
}

func policyFormValues(p *portal.Policy) url.Values {
	f := url.Values{}
	if p == nil {
		p = &portal.Policy{GoldenImage: portal.DefaultSet(), Other: portal.DefaultSet()}
	} else {
		f.Set("name", p.Name)
		f.Set("description", p.Description)
		f.Set("image", p.ImageID)
		f["group"] = append([]string(nil), p.Groups...)
	}
	for _, c := range portal.ControlDefs {
		if p.Controls.Get(c.Key) {
			f.Set("control_"+c.Key, "1")
		}
	}
	for _, s := range []struct {
		prefix string
		set    portal.SettingSet
	}{{"gi", p.GoldenImage}, {"other", p.Other}} {
		if s.set.On {
			f.Set(s.prefix+"_on", "1")
		}
		for _, d := range portal.Settings {
			v := s.set.Value(d.Key)
			if d.Bool() && v != "true" {
				continue
			}
			f.Set(s.prefix+"_"+d.Key, v)
		}
	}
	return f
}

func policyInputFrom(f url.Values) portal.PolicyInput {
	in := portal.PolicyInput{Name: f.Get("name"), Description: f.Get("description"), ImageID: f.Get("image"), Groups: f["group"]}
	for _, c := range portal.ControlDefs {
		in.Controls.Set(c.Key, f.Get("control_"+c.Key) == "1")
	}
	for _, s := range []struct {
		prefix string
		set    *portal.SettingSet
	}{{"gi", &in.GoldenImage}, {"other", &in.Other}} {
		s.set.On = f.Get(s.prefix+"_on") == "1"
		s.set.Values = map[string]string{}
		for _, d := range portal.Settings {
			v := f.Get(s.prefix + "_" + d.Key)
			if d.Bool() {
				if v == "true" {
					s.set.Values[d.Key] = "true"
				} else {
					s.set.Values[d.Key] = "false"
				}
			} else if v != "" {
				s.set.Values[d.Key] = v
			} else {
				s.set.Values[d.Key] = d.Default
			}
		}
	}
	return in
}

func (h *portalHandlers) policiesPage(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Policies") {
		return
	}
	c := callerFrom(r)
	pols, err := h.svc.Policies(r.Context(), c)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	groups, err := h.svc.Groups(r.Context(), c, false)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	labels := map[string]string{}
	for _, g := range groups {
		labels[g.KeyID] = g.Label()
	}
	h.render(w, r, http.StatusOK, "portal_policies", &Page{Title: "Policies", Data: map[string]any{"Policies": pols, "GroupLabels": labels}})
}

func (h *portalHandlers) newPolicy(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Policies") {
		return
	}
	h.renderPolicyForm(w, r, http.StatusOK, nil, "general", policyFormValues(nil), nil)
}

func (h *portalHandlers) editPolicy(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Policies") {
		return
	}
	p, err := h.svc.Policy(r.Context(), callerFrom(r), r.PathValue("policy"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.renderPolicyForm(w, r, http.StatusOK, p, "general", policyFormValues(p), nil)
}

// policyGroupChoice is a group on the General step.
type policyGroupChoice struct {
	portal.Group
	TakenBy string // another policy has it
}

func (h *portalHandlers) renderPolicyForm(w http.ResponseWriter, r *http.Request, status int, p *portal.Policy, step string, form url.Values, errs map[string]string) {
	c := callerFrom(r)
	groups, err := h.svc.Groups(r.Context(), c, true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var choices []policyGroupChoice
	for _, g := range groups {
		ch := policyGroupChoice{Group: g}
		if g.PolicyID != "" && (p == nil || g.PolicyID != p.ID) {
			ch.TakenBy = g.PolicyName
		}
		choices = append(choices, ch)
	}
	imgs, err := h.svc.Images(r.Context(), c)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	chosen := map[string]bool{}
	for _, g := range form["group"] {
		chosen[g] = true
	}
	data := map[string]any{"Policy": p, "Step": step, "Steps": policySteps, "Hidden": policyHidden(form, step),
		"Groups": choices, "Chosen": chosen, "Images": imgs, "Controls": portal.ControlDefs, "Settings": portal.Settings}
	if h.cfg.Preview != nil {
		id := ""
		if p != nil {
			id = p.ID
		}
		prev, err := h.cfg.Preview(r.Context(), c, id, policyInputFrom(form))
		if _, bad := portal.IsFieldError(err); err != nil && !bad {
			h.fail(w, r, err)
			return
		}
		data["Preview"] = prev
	}
	title := "New policy"
	if p != nil {
		title = "Edit policy"
	}
	h.render(w, r, status, "portal_policy_form", &Page{Title: title, Form: form, Errors: errs, Data: data})
}

// policyForm moves between the steps (Next, Previous, a step's tab) and
// saves. Every step posts the whole policy: the other steps' values ride
// along as hidden fields.
func (h *portalHandlers) policyForm(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Policies") {
		return
	}
	c := callerFrom(r)
	var p *portal.Policy
	if id := r.PostFormValue("policy_id"); id != "" {
		var err error
		if p, err = h.svc.Policy(r.Context(), c, id); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	step := r.PostFormValue("step")
	if !validStep(step) {
		step = "general"
	}
	form := url.Values{}
	for k, v := range r.PostForm {
		if policyStepOf(k) != "" {
			form[k] = v
		}
	}
	at := 0
	for i, s := range policySteps {
		if s.Key == step {
			at = i
		}
	}
	switch action := r.PostFormValue("go"); {
	case action == "next" && at+1 < len(policySteps):
		step = policySteps[at+1].Key
	case action == "prev" && at > 0:
		step = policySteps[at-1].Key
	case strings.HasPrefix(action, "step:") && validStep(strings.TrimPrefix(action, "step:")):
		step = strings.TrimPrefix(action, "step:")
	case action == "save":
		id := ""
		if p != nil {
			id = p.ID
		}
		saved, err := h.svc.SavePolicy(r.Context(), c, id, policyInputFrom(form), ActorFrom(r))
		if fe, ok := portal.IsFieldError(err); ok {
			errStep := policyStepOf(fe.Field)
			if errStep == "" {
				errStep = step
			}
			h.renderPolicyForm(w, r, http.StatusUnprocessableEntity, p, errStep, form, map[string]string{fe.Field: fe.Message})
			return
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		msg := fmt.Sprintf("Policy “%s” saved. Its groups' installations apply it at their next check-in.", saved.Name)
		if len(saved.Groups) == 0 {
			msg = fmt.Sprintf("Policy “%s” saved. It is not applied: it has no group yet.", saved.Name)
		}
		h.redirectFlash(w, r, h.path(r, "/policies"), "success", msg)
		return
	}
	h.renderPolicyForm(w, r, http.StatusOK, p, step, form, nil)
}

func (h *portalHandlers) confirmDeletePolicy(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Policies") {
		return
	}
	p, err := h.svc.Policy(r.Context(), callerFrom(r), r.PathValue("policy"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "portal_policy_delete", &Page{Title: "Delete policy", Data: map[string]any{"Policy": p}})
}

func (h *portalHandlers) deletePolicy(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Policies") {
		return
	}
	c := callerFrom(r)
	p, err := h.svc.Policy(r.Context(), c, r.PathValue("policy"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.svc.DeletePolicy(r.Context(), c, p.ID, ActorFrom(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.path(r, "/policies"), "success",
		fmt.Sprintf("Policy “%s” deleted. Its installations keep their VM settings, unlocked, from their next check-in.", p.Name))
}
