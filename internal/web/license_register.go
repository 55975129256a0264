package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"gatehouse/internal/account"
	"gatehouse/internal/license"
)

// Register Key: in a business account (admins), or from the personal
// workspace, where the organization's details are asked for too and the
// business account is created with the key in it.

var registerFields = []string{"key", "display_name", "name", "country", "contact_name", "contact_email", "contact_phone"}

// previewView is what "Check key" tells about a typed key.
type previewView struct {
	license.KeyPreview
}

func (p *previewView) EditionLabel() string { return license.EditionLabel(p.Edition) }
func (p *previewView) ModelLabel() string   { return license.ModelLabel(p.Model) }

func (h *licenseHandlers) registerPage(w http.ResponseWriter, r *http.Request, status int, personal bool, form url.Values, errs map[string]string, preview *license.KeyPreview) {
	data := map[string]any{"Personal": personal, "Countries": account.Countries}
	if personal {
		data["Action"] = "/licenses/register"
		data["Cancel"] = "/personal"
	} else {
		data["Action"] = h.licensesPath(r, "/register")
		data["Cancel"] = h.licensesPath(r, "")
	}
	if preview != nil {
		data["Preview"] = &previewView{*preview}
	}
	h.render(w, r, status, "license_register", &Page{Title: "Register Key", Form: form, Errors: errs, Data: data})
}

func (h *licenseHandlers) registerForm(w http.ResponseWriter, r *http.Request) {
	h.registerPage(w, r, http.StatusOK, false, nil, nil, nil)
}

func (h *licenseHandlers) registerPersonalForm(w http.ResponseWriter, r *http.Request) {
	sess := SessionFrom(r)
	form := url.Values{"contact_name": {sess.Person.DisplayName}, "contact_email": {sess.Person.Email}}
	h.registerPage(w, r, http.StatusOK, true, form, nil, nil)
}

func registerInput(r *http.Request, personal bool) (license.RegisterInput, url.Values) {
	in := license.RegisterInput{Key: r.PostFormValue("key"), DisplayName: r.PostFormValue("display_name"),
		SuspendTrial: r.PostFormValue("suspend_trial") == "1"}
	form := url.Values{"key": {in.Key}, "display_name": {in.DisplayName}}
	if personal {
		acc, af := accountForm(r)
		for k, v := range af {
			form[k] = v
		}
		in.NewAccount = &license.NewAccount{Name: acc.Name, Country: acc.Country, ContactName: acc.ContactName,
			ContactEmail: acc.ContactEmail, ContactPhone: acc.ContactPhone}
	}
	return in, form
}

func (h *licenseHandlers) register(w http.ResponseWriter, r *http.Request) {
	h.doRegister(w, r, false)
}

func (h *licenseHandlers) registerPersonal(w http.ResponseWriter, r *http.Request) {
	h.doRegister(w, r, true)
}

func (h *licenseHandlers) doRegister(w http.ResponseWriter, r *http.Request, personal bool) {
	caller := callerFrom(r)
	in, form := registerInput(r, personal)

	if r.PostFormValue("step") == "check" {
		p, err := h.svc.PreviewKey(r.Context(), caller, in.Key)
		if errs, ok := licenseFieldErrors(err, nil, registerFields...); ok {
			h.registerPage(w, r, http.StatusUnprocessableEntity, personal, form, errs, nil)
			return
		} else if err != nil {
			h.fail(w, r, err)
			return
		}
		h.registerPage(w, r, http.StatusOK, personal, form, nil, p)
		return
	}

	// Show every problem of the form at once: the key's format and the
	// organization details are checked before anything is looked up.
	errs := map[string]string{}
	if _, err := license.NormalizeKey(in.Key); err != nil {
		errs["key"] = err.Error()
		if in.Key == "" {
			errs["key"] = "Enter the license key."
		}
	}
	if personal {
		acc := account.AccountInput{Name: in.NewAccount.Name, Country: in.NewAccount.Country, ContactName: in.NewAccount.ContactName,
			ContactEmail: in.NewAccount.ContactEmail, ContactPhone: in.NewAccount.ContactPhone}
		for k, v := range allAccountErrors(acc) {
			errs[k] = v
		}
	}
	if len(errs) > 0 {
		h.registerPage(w, r, http.StatusUnprocessableEntity, personal, form, errs, nil)
		return
	}

	res, err := h.svc.RegisterKey(r.Context(), caller, in, ActorFrom(r))
	var ce *license.ConfirmationError
	if errors.As(err, &ce) {
		fields := []hiddenField{{"key", in.Key}, {"display_name", in.DisplayName}, {"suspend_trial", "1"}}
		if personal {
			for _, f := range []string{"name", "country", "contact_name", "contact_email", "contact_phone"} {
				fields = append(fields, hiddenField{f, form.Get(f)})
			}
		}
		action, cancel := "/licenses/register", "/personal"
		if !personal {
			action, cancel = h.licensesPath(r, "/register"), h.licensesPath(r, "")
		}
		h.render(w, r, http.StatusConflict, "license_confirm", &Page{Title: "Suspend the Enterprise trial?", Data: &confirmView{
			Heading: "Suspend the Enterprise trial?", Message: ce.Message, Action: action, Fields: fields,
			Button: "Suspend the trial and register the key", Cancel: cancel}})
		return
	}
	if errs, ok := licenseFieldErrors(err, nil, registerFields...); ok {
		h.registerPage(w, r, http.StatusUnprocessableEntity, personal, form, errs, nil)
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}

	sub := newSubView(*res.Subscription, nowOr(h.svc.Config.Now))
	seats := fmt.Sprintf("%d %s", sub.Seats, plural(sub.Seats, "seat", "seats"))
	msg := fmt.Sprintf("The %s license (%s) is registered.", sub.EditionLabel(), seats)
	if res.AccountCreated {
		msg = fmt.Sprintf("The business account %s is created with your %s license (%s) in it. You are its admin.",
			strings.TrimSpace(in.NewAccount.Name), sub.EditionLabel(), seats)
	}
	if res.SuspendedTrial != nil {
		msg += " The Enterprise trial is suspended: its golden images and policies are kept, but policies are no longer assigned."
	}
	h.redirectFlash(w, r, "/accounts/"+res.AccountID+"/licenses/"+res.Subscription.ID, "success", msg)
}

// allAccountErrors reports every problem of the organization details, not
// only the first one Validate finds: after each problem the field is
// replaced by a valid stand-in and the input checked again.
func allAccountErrors(in account.AccountInput) map[string]string {
	errs := map[string]string{}
	for range 5 {
		m, ok := formErrors(in.Validate())
		if !ok {
			break
		}
		progressed := false
		for field, msg := range m {
			if _, seen := errs[field]; seen {
				continue
			}
			errs[field], progressed = msg, true
			switch field {
			case "name":
				in.Name = "stand-in"
			case "country":
				in.Country = "DE"
			case "contact_name":
				in.ContactName = ""
			case "contact_email":
				in.ContactEmail = ""
			case "contact_phone":
				in.ContactPhone = ""
			default:
				progressed = false
			}
		}
		if !progressed {
			break
		}
	}
	return errs
}
