package web

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"gatehouse/internal/idp"
	"gatehouse/internal/saml"
	"gatehouse/internal/sso"
	"gatehouse/internal/store"
)

// idpView is the configurator page's data.
type idpView struct {
	State      string // "unavailable", "start" or "config"
	Providers  []*idp.Provider
	O          *idp.Overview
	Guides     map[int]guideView
	Highlights []template.HTML
	Attributes []idp.Attribute
	Open       map[int]bool
	NewToken   string
	Overlaps   []overlapOption
	Base       string // /accounts/{id}/idp
	// Failures are the account's most recent refused SSO sign-ins.
	Failures []sso.Failure
	// TestBlocked says why Test sign-in cannot start yet ("" when it can);
	// Tests are the admin's own recent test sign-ins.
	TestBlocked string
	Tests       []sso.TestSignIn
	// TestAvailable: the SSO sign-in is wired, so tests can run.
	TestAvailable bool
}

// GenericIdP reports whether the admin chose "Other SAML 2.0 / SCIM 2.0
// IdP", whose name is a category, not something to put into sentences.
func (v *idpView) GenericIdP() bool { return v.O != nil && v.O.Provider.ID == idp.ProviderOther }

// IdPName is how sentences name the identity provider: its product name,
// or "your IdP" for the generic choice.
func (v *idpView) IdPName() string {
	if v.O == nil || v.GenericIdP() {
		return "your IdP"
	}
	return v.O.Provider.Name
}

// providerPhrase names a provider inside a sentence.
func providerPhrase(id string) string {
	if id == idp.ProviderOther {
		return "a generic SAML 2.0 / SCIM 2.0 IdP"
	}
	return idp.ProviderByID(id).Name
}

// IsOpen reports whether step n starts expanded.
func (v *idpView) IsOpen(n int) bool { return v.Open[n] }

// Step returns step n's state.
func (v *idpView) Step(n int) idp.Step { return v.O.Steps[n-1] }

// Guide returns the IdP-side instructions of step n.
func (v *idpView) Guide(n int) guideView { return v.Guides[n] }

// FirstHighlight is a provider's most important difference, for the chooser.
func (v *idpView) FirstHighlight(p *idp.Provider) template.HTML {
	if len(p.Highlights) == 0 {
		return ""
	}
	return markup(p.Highlights[0])
}

// SPSigningFingerprint is the SHA-256 fingerprint of the SP's request
// signing certificate.
func (v *idpView) SPSigningFingerprint() string {
	if v.O == nil || v.O.SP.SigningCert == nil {
		return ""
	}
	return saml.Fingerprint(v.O.SP.SigningCert)
}

// At wraps a time for Page.When.
func (v *idpView) At(t time.Time) store.Time { return store.At(t) }

// StepPath is the form action of step n's checkbox.
func (v *idpView) StepPath(n int) string { return fmt.Sprintf("%s/steps/%d", v.Base, n) }

func (p *idpPages) base(r *http.Request) string {
	return "/accounts/" + AccessFrom(r).AccountID + "/idp"
}

// render shows the configurator in whatever state the account is.
func (p *idpPages) render(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs map[string]string, open int, newToken string) {
	acc := AccessFrom(r)
	v := &idpView{Providers: idp.Providers(), Base: p.base(r), Open: map[int]bool{}, NewToken: newToken}
	o, err := p.svc.Overview(r.Context(), acc.AccountID)
	switch {
	case errors.Is(err, idp.ErrNotStarted):
		ok, lerr := p.svc.HasLicense(r.Context(), acc.AccountID)
		if lerr != nil {
			p.s.serverError(w, r, lerr)
			return
		}
		v.State = "start"
		if !ok {
			v.State = "unavailable"
		}
		if form == nil {
			form = url.Values{"provider": {idp.ProviderEntra}}
		}
		p.s.render(w, r, status, "idp_configurator", &Page{Title: "IdP Integration", Form: form, Errors: errs, Data: v})
		return
	case err != nil:
		p.s.serverError(w, r, err)
		return
	}
	v.State, v.O = "config", o
	v.Guides = map[int]guideView{}
	for n, g := range o.Provider.Guides {
		v.Guides[n] = guideOf(g)
	}
	for _, h := range o.Provider.Highlights {
		v.Highlights = append(v.Highlights, markup(h))
	}
	v.Attributes = o.Provider.Attributes()
	v.Overlaps = overlapOptions(p.svc.Config.DefaultOverlap)
	if open >= 1 && open <= 7 {
		v.Open[open] = true
	} else if !o.Integration.Active {
		for _, st := range o.Steps {
			if !st.Done {
				v.Open[st.Number] = true
				break
			}
		}
	}
	if form == nil {
		form = url.Values{}
	}
	in := o.Integration
	defaults := map[string]string{"provider": in.Provider,
		"admins_name": in.Groups.AdminsName, "admins_uuid": in.Groups.AdminsUUID,
		"users_name": in.Groups.DesktopUsersName, "users_uuid": in.Groups.DesktopUsersUUID,
		"idp_entity_id": in.IdPEntityID, "idp_sso_url": in.IdPSSOURL, "idp_certificate": in.IdPCertsPEM,
		"idp_signed_requests": checked(in.IdPWantsSignedRequests), "backup": in.BackupPersonID}
	for k, d := range defaults {
		if _, set := form[k]; !set {
			form.Set(k, d)
		}
	}
	if p.s.ssoFailures != nil {
		fails, err := p.s.ssoFailures(r.Context(), o.Integration.AccountID, 20)
		if err != nil {
			p.s.serverError(w, r, err)
			return
		}
		v.Failures = fails
	}
	if p.s.sso != nil {
		v.TestAvailable, v.TestBlocked = true, testSignInBlocked(o)
		if v.Tests, err = p.s.sso.RecentTests(r.Context(), acc.AccountID, SessionFrom(r).Person.ID, 5); err != nil {
			p.s.serverError(w, r, err)
			return
		}
	}
	p.s.render(w, r, status, "idp_configurator", &Page{Title: "IdP Integration", Form: form, Errors: errs, Data: v})
}

func (p *idpPages) show(w http.ResponseWriter, r *http.Request) {
	open, _ := strconv.Atoi(r.URL.Query().Get("open"))
	p.render(w, r, http.StatusOK, nil, nil, open, "")
}

// done redirects back to the configurator with step n open.
func (p *idpPages) done(w http.ResponseWriter, r *http.Request, n int, msg string) {
	to := p.base(r)
	if n > 0 {
		to += fmt.Sprintf("?open=%d#step-%d", n, n)
	}
	p.s.redirectFlash(w, r, to, "success", msg)
}

// fail answers a service error: validation errors re-render the page with
// the message next to the field (422), the rest map to their status.
func (p *idpPages) fail(w http.ResponseWriter, r *http.Request, err error, n int, form url.Values) {
	var incomplete *idp.IncompleteError
	switch {
	case errors.Is(err, store.ErrNotFound):
		p.s.notFound(w, r)
	case errors.Is(err, idp.ErrNotStarted):
		p.s.renderError(w, r, http.StatusConflict, "Start configuring first",
			"The IdP integration of this business account has not been started. Open IdP Integration, choose your identity provider and click Start Configuring.")
	case errors.Is(err, idp.ErrNoLicense):
		p.s.renderError(w, r, http.StatusConflict, "Register a license key first", sentence(err)+" Register your key, then come back.")
	case errors.As(err, &incomplete):
		p.render(w, r, http.StatusConflict, form, map[string]string{"form": "Not activated: " + err.Error() + "."}, incomplete.Steps[0], "")
	default:
		if errs, ok := formErrors(err); ok {
			p.render(w, r, http.StatusUnprocessableEntity, form, errs, n, "")
			return
		}
		p.s.serverError(w, r, err)
	}
}

func (p *idpPages) start(w http.ResponseWriter, r *http.Request) {
	provider := r.PostFormValue("provider")
	sess := SessionFrom(r)
	err := p.svc.Start(r.Context(), AccessFrom(r).AccountID, provider, sess.Person.ID, ActorFrom(r))
	if err != nil {
		p.fail(w, r, err, 0, url.Values{"provider": {provider}})
		return
	}
	p.done(w, r, 1, "Configuration started for "+providerPhrase(provider)+". Work through the seven steps; everything you enter is saved as you go.")
}

func (p *idpPages) provider(w http.ResponseWriter, r *http.Request) {
	provider := r.PostFormValue("provider")
	if err := p.svc.SetProvider(r.Context(), AccessFrom(r).AccountID, provider, ActorFrom(r)); err != nil {
		p.fail(w, r, err, 0, url.Values{"provider": {provider}})
		return
	}
	p.done(w, r, 0, "The instructions now follow "+providerPhrase(provider)+".")
}

func (p *idpPages) addDomain(w http.ResponseWriter, r *http.Request) {
	raw := r.PostFormValue("domain")
	d, err := p.svc.AddDomain(r.Context(), AccessFrom(r).AccountID, raw, ActorFrom(r))
	if err != nil {
		p.fail(w, r, err, 1, url.Values{"domain": {raw}})
		return
	}
	msg := d.Unicode + " is added. Publish the TXT record shown for it at your DNS host, then click Verify."
	if d.Status == idp.DomainVerified {
		msg = d.Unicode + " is added and already verified: its TXT record is published."
	}
	p.done(w, r, 1, msg)
}

func (p *idpPages) verifyDomain(w http.ResponseWriter, r *http.Request) {
	d, err := p.svc.VerifyDomain(r.Context(), AccessFrom(r).AccountID, r.PathValue("domain"), ActorFrom(r))
	if err != nil {
		p.fail(w, r, err, 1, nil)
		return
	}
	switch d.Status {
	case idp.DomainVerified:
		p.done(w, r, 1, d.Unicode+" is verified.")
	case idp.DomainFailed:
		p.s.redirectFlash(w, r, p.base(r)+"?open=1#step-1", "error", d.Unicode+" could not be verified: "+d.LastFound)
	default:
		p.s.redirectFlash(w, r, p.base(r)+"?open=1#step-1", "info", "Not verified yet: "+d.LastFound+
			" DNS changes can take a while to spread; Gatehouse keeps checking in the background for up to 72 hours.")
	}
}

func (p *idpPages) removeDomain(w http.ResponseWriter, r *http.Request) {
	acc := AccessFrom(r)
	d, err := p.svc.Domain(r.Context(), acc.AccountID, r.PathValue("domain"))
	if err == nil {
		err = p.svc.RemoveDomain(r.Context(), acc.AccountID, d.ID, ActorFrom(r))
	}
	if err != nil {
		p.fail(w, r, err, 1, nil)
		return
	}
	p.done(w, r, 1, d.Unicode+" is removed.")
}

func (p *idpPages) stepDone(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("step"))
	if err != nil || (n != 2 && n != 4 && n != 5 && n != 6) {
		p.s.notFound(w, r)
		return
	}
	done := r.PostFormValue("done") == "1"
	if err := p.svc.SetStepDone(r.Context(), AccessFrom(r).AccountID, n, done, ActorFrom(r)); err != nil {
		p.fail(w, r, err, n, nil)
		return
	}
	msg := fmt.Sprintf("Step %d is marked as done (%s).", n, idp.StepTitles[n])
	if !done {
		msg = fmt.Sprintf("Step %d is marked as not done (%s).", n, idp.StepTitles[n])
	}
	p.done(w, r, n, msg)
}

func (p *idpPages) group(w http.ResponseWriter, r *http.Request) {
	which := r.PathValue("group")
	if which != idp.GroupAdmins && which != idp.GroupDesktopUsers {
		p.s.notFound(w, r)
		return
	}
	name, uuid := r.PostFormValue(which+"_name"), r.PostFormValue(which+"_uuid")
	err := p.svc.SetGroup(r.Context(), AccessFrom(r).AccountID, which, name, uuid, ActorFrom(r))
	if err != nil {
		p.fail(w, r, err, 3, url.Values{which + "_name": {name}, which + "_uuid": {uuid}, "editing": {which}})
		return
	}
	p.done(w, r, 3, "The "+idp.GroupLabel(which)+" group is saved.")
}

func (p *idpPages) saveSAML(w http.ResponseWriter, r *http.Request) {
	in := idp.SAMLInput{EntityID: r.PostFormValue("idp_entity_id"), SSOURL: r.PostFormValue("idp_sso_url"),
		Certificates: r.PostFormValue("idp_certificate"), WantAuthnRequestsSigned: r.PostFormValue("idp_signed_requests") == "1"}
	if err := p.svc.SaveSAML(r.Context(), AccessFrom(r).AccountID, in, ActorFrom(r)); err != nil {
		p.fail(w, r, err, 4, url.Values{"idp_entity_id": {in.EntityID}, "idp_sso_url": {in.SSOURL}, "idp_certificate": {in.Certificates},
			"idp_signed_requests": {checked(in.WantAuthnRequestsSigned)}})
		return
	}
	msg := "The identity provider settings are saved."
	if in.WantAuthnRequestsSigned {
		msg += " Authentication requests to it are signed."
	}
	p.done(w, r, 4, msg)
}

// checked is a checkbox's form value: "1" when ticked, "" when not.
func checked(b bool) string {
	if b {
		return "1"
	}
	return ""
}

func (p *idpPages) uploadMetadata(w http.ResponseWriter, r *http.Request) {
	var xml []byte
	if f, _, err := r.FormFile("metadata"); err == nil {
		xml, err = io.ReadAll(io.LimitReader(f, 1<<20+1))
		f.Close()
		if err != nil {
			p.s.serverError(w, r, err)
			return
		}
	}
	idpSettings, err := p.svc.UploadMetadata(r.Context(), AccessFrom(r).AccountID, xml, ActorFrom(r))
	if err != nil {
		p.fail(w, r, err, 4, nil)
		return
	}
	n := len(idpSettings.Certificates)
	msg := fmt.Sprintf("Metadata of %s loaded: SSO URL and %d signing %s saved.", idpSettings.EntityID, n, plural(n, "certificate", "certificates"))
	if idpSettings.WantAuthnRequestsSigned {
		msg += " The IdP requires signed authentication requests: Gatehouse signs them."
	}
	p.done(w, r, 4, msg)
}

func (p *idpPages) spMetadata(w http.ResponseWriter, r *http.Request) {
	md, err := p.svc.SPMetadata(r.Context(), AccessFrom(r).AccountID)
	if err != nil {
		p.s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Content-Disposition", `attachment; filename="gatehouse-sp-metadata.xml"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(md)
}

func (p *idpPages) scimSwitch(w http.ResponseWriter, r *http.Request) {
	on := r.PostFormValue("scim") == "1"
	if err := p.svc.SetSCIM(r.Context(), AccessFrom(r).AccountID, on, ActorFrom(r)); err != nil {
		p.fail(w, r, err, 5, nil)
		return
	}
	if on {
		p.done(w, r, 5, "SCIM provisioning is on.")
		return
	}
	p.done(w, r, 5, "SCIM provisioning is off: add and remove people by hand. Step 5 is complete.")
}

func (p *idpPages) scimToken(w http.ResponseWriter, r *http.Request) {
	overlap := p.svc.Config.DefaultOverlap
	if v := r.PostFormValue("overlap"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			p.fail(w, r, &idp.FieldError{Field: "overlap", Message: "Choose how long the previous token keeps working from the list."}, 5, nil)
			return
		}
		overlap = d
	}
	token, err := p.svc.GenerateSCIMToken(r.Context(), AccessFrom(r).AccountID, overlap, ActorFrom(r))
	if err != nil {
		p.fail(w, r, err, 5, nil)
		return
	}
	// The token is shown in this response only: not in a redirect, a
	// cookie or a log.
	p.render(w, r, http.StatusOK, nil, nil, 5, token)
}

func (p *idpPages) backup(w http.ResponseWriter, r *http.Request) {
	person := r.PostFormValue("backup")
	if err := p.svc.SetBackupLogin(r.Context(), AccessFrom(r).AccountID, person, ActorFrom(r)); err != nil {
		p.fail(w, r, err, 7, url.Values{"backup": {person}})
		return
	}
	p.done(w, r, 7, "The backup login is saved.")
}

func (p *idpPages) activate(w http.ResponseWriter, r *http.Request) {
	err := p.svc.Activate(r.Context(), AccessFrom(r).AccountID, ActorFrom(r))
	if errors.Is(err, idp.ErrAlreadyActive) {
		p.s.redirectFlash(w, r, p.base(r), "info", "The integration is already active.")
		return
	}
	if err != nil {
		p.fail(w, r, err, 0, nil)
		return
	}
	p.s.redirectFlash(w, r, p.base(r), "success", "The integration is active. From now on admin rights come from signing in with SSO as a member of the admins group; password sign-in keeps admin rights only for the backup login.")
}

func (p *idpPages) deactivate(w http.ResponseWriter, r *http.Request) {
	err := p.svc.Deactivate(r.Context(), AccessFrom(r).AccountID, ActorFrom(r))
	if errors.Is(err, idp.ErrNotActive) {
		p.s.redirectFlash(w, r, p.base(r), "info", "The integration is not active.")
		return
	}
	if err != nil {
		p.fail(w, r, err, 0, nil)
		return
	}
	p.s.redirectFlash(w, r, p.base(r), "success", "The integration is deactivated: SSO sign-in has stopped and admins sign in with their passwords again.")
}
