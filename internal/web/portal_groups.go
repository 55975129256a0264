package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"gatehouse/internal/portal"
)

func (h *portalHandlers) groupsPage(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "User Groups") {
		return
	}
	groups, err := h.svc.Groups(r.Context(), callerFrom(r), true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "portal_groups", &Page{Title: "User Groups", Data: map[string]any{"Groups": groups}})
}

// ---- Configuration profiles (account admins) ----

func (h *portalHandlers) profilesPage(w http.ResponseWriter, r *http.Request) {
	h.renderProfiles(w, r, http.StatusOK, nil)
}

func (h *portalHandlers) renderProfiles(w http.ResponseWriter, r *http.Request, status int, errs map[string]string) {
	c := callerFrom(r)
	profiles, err := h.svc.Profiles(r.Context(), c)
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
	h.render(w, r, status, "portal_profiles", &Page{Title: "Configuration Profiles", Errors: errs,
		Data: map[string]any{"Profiles": profiles, "Groups": groups, "KeyLabels": labels, "Default": portal.DefaultProfileName}})
}

func profileForm(p *portal.Profile) url.Values {
	on := func(b bool) string {
		if b {
			return "1"
		}
		return ""
	}
	f := url.Values{"name": {p.Name}, "updates_enabled": {on(p.UpdatesEnabled)}, "updates_allow_major": {on(p.UpdatesAllowMajor)}}
	for _, pl := range []struct {
		k string
		p portal.Payload
	}{{"intel", p.Intel}, {"arm", p.AppleSilicon}} {
		f.Set(pl.k+"_enabled", on(pl.p.Enabled))
		f.Set(pl.k+"_name", pl.p.Name)
		f.Set(pl.k+"_description", pl.p.Description)
		f.Set(pl.k+"_url", pl.p.URL)
		f.Set(pl.k+"_sha256", pl.p.SHA256)
	}
	return f
}

func profileInput(f url.Values) portal.ProfileInput {
	pl := func(k string) portal.Payload {
		return portal.Payload{Enabled: f.Get(k+"_enabled") == "1", Name: f.Get(k + "_name"), Description: f.Get(k + "_description"),
			URL: f.Get(k + "_url"), SHA256: f.Get(k + "_sha256")}
	}
	return portal.ProfileInput{Name: f.Get("name"), Intel: pl("intel"), AppleSilicon: pl("arm"),
		UpdatesEnabled: f.Get("updates_enabled") == "1", UpdatesAllowMajor: f.Get("updates_allow_major") == "1"}
}

func (h *portalHandlers) renderProfileForm(w http.ResponseWriter, r *http.Request, status int, p *portal.Profile, form url.Values, errs map[string]string) {
	title := "New configuration profile"
	if p != nil {
		title = "Edit configuration profile"
	}
	h.render(w, r, status, "portal_profile_form", &Page{Title: title, Form: form, Errors: errs, Data: map[string]any{"Profile": p}})
}

func (h *portalHandlers) newProfile(w http.ResponseWriter, r *http.Request) {
	h.renderProfileForm(w, r, http.StatusOK, nil, url.Values{}, nil)
}

func (h *portalHandlers) editProfile(w http.ResponseWriter, r *http.Request) {
	p, err := h.svc.Profile(r.Context(), callerFrom(r), r.PathValue("profile"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.renderProfileForm(w, r, http.StatusOK, p, profileForm(p), nil)
}

func (h *portalHandlers) saveProfile(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	id := r.PathValue("profile")
	var old *portal.Profile
	if id != "" {
		var err error
		if old, err = h.svc.Profile(r.Context(), c, id); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	p, err := h.svc.SaveProfile(r.Context(), c, id, profileInput(r.PostForm), ActorFrom(r))
	if fe, ok := portal.IsFieldError(err); ok {
		h.renderProfileForm(w, r, http.StatusUnprocessableEntity, old, r.PostForm, map[string]string{fe.Field: fe.Message})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.path(r, "/profiles"), "success", fmt.Sprintf("Profile “%s” saved. Installations of its keys receive it at their next check-in.", p.Name))
}

func (h *portalHandlers) deleteProfile(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r)
	p, err := h.svc.Profile(r.Context(), c, r.PathValue("profile"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.svc.DeleteProfile(r.Context(), c, p.ID, ActorFrom(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.path(r, "/profiles"), "success", fmt.Sprintf("Profile “%s” deleted; its keys have the Default profile again.", p.Name))
}

func (h *portalHandlers) applyProfile(w http.ResponseWriter, r *http.Request) {
	n, err := h.svc.ApplyProfile(r.Context(), callerFrom(r), r.PostFormValue("key"), r.PostFormValue("profile"), ActorFrom(r))
	if fe, ok := portal.IsFieldError(err); ok {
		h.renderProfiles(w, r, http.StatusUnprocessableEntity, map[string]string{"apply": fe.Message})
		return
	}
	if errors.Is(err, portal.ErrNotFound) {
		h.renderProfiles(w, r, http.StatusUnprocessableEntity, map[string]string{"apply": "That license key does not exist (any more)."})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	msg := "Profile applied. The key's installations receive it at their next check-in."
	if n > 0 {
		msg = fmt.Sprintf("Profile applied to the primary key and to %d %s that had none.", n, plural(n, "sublicense", "sublicenses"))
	}
	h.redirectFlash(w, r, h.path(r, "/profiles"), "success", msg)
}
