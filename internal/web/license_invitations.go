package web

import (
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"gatehouse/internal/csvexport"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/license/invitations"
)

// Invite Users: choose a key, the language and expiry of the email, add
// addresses (typed, or a one-column CSV file) → review what was understood,
// with every unusable row and its line number → Send Invitations. Nothing is
// sent before the review is confirmed, and a confirmed form sent twice sends
// once (the review carries an idempotency key). Then the Invitations list:
// status, email delivery, resend, revoke, Download Invitations.

var inviteFields = []string{"key", "language", "expires", "emails", "file"}

// badRow is an address list row that cannot be used.
type badRow struct {
	Source  string // "Typed list" or the CSV file's name
	Line    int
	Value   string
	Message string
}

// inviteKeys are the keys of the subscription the caller may invite with.
func (h *licenseHandlers) invitePage(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs map[string]string, bad []badRow) {
	subID := r.PathValue("subscription")
	data, _, err := h.detailsData(r, subID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if form == nil {
		form = url.Values{"key": {r.URL.Query().Get("key")}, "language": {"en"}, "expires": {"7"}}
	}
	data["Languages"], data["Expiries"], data["Bad"] = invitations.InvitationLanguages, license.InvitationExpiryChoices, bad
	h.render(w, r, status, "license_invite", &Page{Title: "Invite Users", Form: form, Errors: errs, Data: data})
}

func (h *licenseHandlers) inviteForm(w http.ResponseWriter, r *http.Request) {
	h.invitePage(w, r, http.StatusOK, nil, nil, nil)
}

// inviteSettings reads key, language and expiry.
func inviteSettings(r *http.Request) (license.InviteInput, url.Values, map[string]string) {
	errs := map[string]string{}
	in := license.InviteInput{KeyID: r.PostFormValue("key"), Language: r.PostFormValue("language")}
	form := url.Values{"key": {in.KeyID}, "language": {in.Language}, "expires": {r.PostFormValue("expires")}}
	if in.KeyID == "" {
		errs["key"] = "Choose the license key the invitations activate."
	}
	days, err := strconv.Atoi(r.PostFormValue("expires"))
	if err != nil {
		errs["expires"] = "Choose when the invitations expire."
	}
	in.ExpiresInDays = days
	return in, form, errs
}

// readAddresses parses the typed list and the uploaded CSV file into one
// list; every row that cannot be used is reported with its source and line.
func readAddresses(r *http.Request) (valid []string, bad []badRow, fileErr string) {
	seen := map[string]string{}
	take := func(source string, p invitations.ParsedAddresses) {
		for _, e := range p.Errors {
			bad = append(bad, badRow{Source: source, Line: e.Line, Value: e.Value, Message: e.Message})
		}
		for _, a := range p.Valid {
			k := strings.ToLower(a)
			if first, dup := seen[k]; dup {
				bad = append(bad, badRow{Source: source, Value: a, Message: "already in the " + first + "; invited once"})
				continue
			}
			seen[k] = strings.ToLower(source)
			valid = append(valid, a)
		}
	}
	take("Typed list", invitations.ParseAddressList(r.PostFormValue("emails")))
	f, hdr, err := r.FormFile("file")
	switch {
	case errors.Is(err, http.ErrMissingFile), errors.Is(err, http.ErrNotMultipart):
	case err != nil:
		return valid, bad, "The file could not be read; upload it again."
	default:
		defer f.Close()
		if hdr.Size == 0 {
			break
		}
		p, err := invitations.ParseInvitationCSV(f)
		if fe, ok := invitations.IsFieldError(err); ok {
			return valid, bad, fe.Message
		} else if err != nil {
			return valid, bad, "The file could not be read: " + err.Error()
		}
		take(csvSource(hdr), p)
	}
	// Line numbers of the same source are shown in order.
	return valid, bad, ""
}

func csvSource(h *multipart.FileHeader) string {
	name := h.Filename
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name == "" || len(name) > 100 {
		name = "CSV file"
	}
	return "file " + name
}

// inviteReview is the Parse step: it shows what will be sent and asks to
// confirm.
func (h *licenseHandlers) inviteReview(w http.ResponseWriter, r *http.Request) {
	subID := r.PathValue("subscription")
	caller := callerFrom(r)
	if _, err := h.svc.Subscription(r.Context(), caller, subID); err != nil {
		h.fail(w, r, err)
		return
	}
	in, form, errs := inviteSettings(r)
	form.Set("emails", r.PostFormValue("emails"))
	valid, bad, fileErr := readAddresses(r)
	if fileErr != "" {
		errs["file"] = fileErr
	}
	if r.PostFormValue("step") == "edit" {
		h.invitePage(w, r, http.StatusOK, form, nil, nil)
		return
	}
	if len(valid) == 0 && errs["file"] == "" {
		if len(bad) == 0 {
			errs["emails"] = "Add at least one email address, or choose a CSV file."
		} else {
			errs["emails"] = plural(len(bad), "The row is not a usable address; see below.", fmt.Sprintf("None of the %d rows is a usable address; see below.", len(bad)))
		}
	}
	if len(errs) > 0 {
		h.invitePage(w, r, http.StatusUnprocessableEntity, form, errs, bad)
		return
	}
	in.Emails = valid
	_, err := h.svc.SendInvitations(r.Context(), caller, in, ActorFrom(r))
	var ce *license.ConfirmationError
	if !errors.As(err, &ce) {
		if fe, ok := licenseFieldErrors(err, nil, inviteFields...); ok {
			h.invitePage(w, r, http.StatusUnprocessableEntity, form, fe, bad)
			return
		}
		if err == nil {
			err = errors.New("send invitations: sent without confirmation")
		}
		h.fail(w, r, err)
		return
	}
	k, err := h.svc.Key(r.Context(), caller, in.KeyID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if k.SubscriptionID != subID {
		h.notFound(w, r)
		return
	}
	// What the admin may go back to edit: the usable addresses and the
	// values of the rows that need fixing.
	edit := append([]string(nil), valid...)
	for _, b := range bad {
		if b.Value != "" && !strings.HasPrefix(b.Message, "already in") && !strings.HasPrefix(b.Message, "duplicate") {
			edit = append(edit, b.Value)
		}
	}
	lang := in.Language
	for _, l := range invitations.InvitationLanguages {
		if l.Code == in.Language {
			lang = l.Name
		}
	}
	expiry := strconv.Itoa(in.ExpiresInDays) + " days"
	for _, e := range license.InvitationExpiryChoices {
		if e.Days == in.ExpiresInDays {
			expiry = e.Label
		}
	}
	h.render(w, r, http.StatusOK, "license_invite_review", &Page{Title: "Review invitations", Form: form, Data: map[string]any{
		"Key": &keyView{Key: *k}, "Valid": valid, "Bad": bad, "Message": ce.Message, "Language": lang, "Expiry": expiry,
		"Idempotency": ids.New(), "Edit": strings.Join(edit, "\n"), "SubID": subID}})
}

func (h *licenseHandlers) inviteSend(w http.ResponseWriter, r *http.Request) {
	subID := r.PathValue("subscription")
	caller := callerFrom(r)
	if _, err := h.svc.Subscription(r.Context(), caller, subID); err != nil {
		h.fail(w, r, err)
		return
	}
	in, form, errs := inviteSettings(r)
	in.Emails = r.PostForm["email"]
	in.IdempotencyKey = r.PostFormValue("idempotency_key")
	in.Confirm = true
	form.Set("emails", strings.Join(in.Emails, "\n"))
	if len(errs) > 0 {
		h.invitePage(w, r, http.StatusUnprocessableEntity, form, errs, nil)
		return
	}
	if k, err := h.svc.Key(r.Context(), caller, in.KeyID); err != nil {
		h.fail(w, r, err)
		return
	} else if k.SubscriptionID != subID {
		h.notFound(w, r)
		return
	}
	res, err := h.svc.SendInvitations(r.Context(), caller, in, ActorFrom(r))
	if fe, ok := licenseFieldErrors(err, nil, inviteFields...); ok {
		h.invitePage(w, r, http.StatusUnprocessableEntity, form, fe, nil)
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	n := len(res.Invitations)
	to := h.licensesPath(r, "/"+subID+"/invitations")
	if res.Repeated {
		h.redirectFlash(w, r, to, "info", fmt.Sprintf("%s sent already; nothing was sent twice.", plural(n, "This invitation was", fmt.Sprintf("These %d invitations were", n))))
		return
	}
	h.redirectFlash(w, r, to, "success", fmt.Sprintf("%d %s created and queued for sending. Their delivery state is shown below.",
		n, plural(n, "invitation is", "invitations are")))
}

// invitationView is a row of the Invitations list.
type invitationView struct {
	license.Invitation
}

func (v *invitationView) KeyLabel() string {
	if v.KeyName != "" {
		return v.KeyName + " (…" + v.KeyLast + ")"
	}
	return "…" + v.KeyLast
}

// DeliveryLabel and DeliveryClass describe the state of the latest email.
func (v *invitationView) DeliveryLabel() string {
	switch v.Delivery {
	case "sent":
		return "Delivered"
	case "failed":
		return "Failed"
	case "pending":
		if v.DeliveryAttempts > 0 {
			return "Retrying"
		}
		return "Queued"
	case "":
		return "—"
	}
	return v.Delivery
}

func (v *invitationView) DeliveryClass() string {
	switch v.Delivery {
	case "sent":
		return "ok"
	case "failed":
		return "err"
	}
	return "warn"
}

func (v *invitationView) CanResend() bool {
	return v.Status == license.InvitationPending || v.Status == license.InvitationExpired
}

func (v *invitationView) CanRevoke() bool { return v.Status == license.InvitationPending }

// subscriptionInvitations lists the invitations of one subscription's keys.
func (h *licenseHandlers) subscriptionInvitations(r *http.Request, keys []*keyView, f license.InvitationFilter) ([]license.Invitation, error) {
	mine := map[string]bool{}
	for _, k := range keys {
		mine[k.ID] = true
	}
	if f.KeyID != "" && !mine[f.KeyID] {
		return nil, nil
	}
	invs, err := h.svc.Invitations(r.Context(), callerFrom(r), f)
	if err != nil {
		return nil, err
	}
	out := invs[:0]
	for _, inv := range invs {
		if mine[inv.KeyID] {
			out = append(out, inv)
		}
	}
	return out, nil
}

func invitationFilter(q url.Values) (license.InvitationFilter, url.Values) {
	f := license.InvitationFilter{KeyID: q.Get("key"), Query: q.Get("q"), Status: q.Get("status")}
	switch f.Status {
	case "", license.InvitationPending, license.InvitationUsed, license.InvitationExpired, license.InvitationRevoked:
	default:
		f.Status = ""
	}
	return f, url.Values{"key": {f.KeyID}, "q": {f.Query}, "status": {f.Status}}
}

func (h *licenseHandlers) invitations(w http.ResponseWriter, r *http.Request) {
	h.invitationsPage(w, r, http.StatusOK, nil)
}

func (h *licenseHandlers) invitationsPage(w http.ResponseWriter, r *http.Request, status int, errs map[string]string) {
	subID := r.PathValue("subscription")
	data, _, err := h.detailsData(r, subID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f, form := invitationFilter(r.URL.Query())
	invs, err := h.subscriptionInvitations(r, data["Keys"].([]*keyView), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	views := make([]*invitationView, len(invs))
	for i := range invs {
		views[i] = &invitationView{invs[i]}
	}
	q := url.Values{}
	for k, v := range form {
		if v[0] != "" {
			q.Set(k, v[0])
		}
	}
	data["Invitations"], data["CSV"] = views, h.licensesPath(r, "/"+subID+"/invitations.csv?"+q.Encode())
	data["Back"] = r.URL.RequestURI()
	data["Statuses"] = []string{license.InvitationPending, license.InvitationUsed, license.InvitationExpired, license.InvitationRevoked}
	h.render(w, r, status, "license_invitations", &Page{Title: "Invitations", Form: form, Errors: errs, Data: data})
}

func (h *licenseHandlers) invitationsCSV(w http.ResponseWriter, r *http.Request) {
	subID := r.PathValue("subscription")
	data, _, err := h.detailsData(r, subID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f, _ := invitationFilter(r.URL.Query())
	f.Limit = 50_000
	invs, err := h.subscriptionInvitations(r, data["Keys"].([]*keyView), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	csvexport.Send(w, "invitations")
	if err := license.WriteInvitationsCSV(w, invs); err != nil {
		h.Log.Error("invitations csv", "err", err, "request_id", RequestID(r))
	}
}

// invitationsBack is where an action on the Invitations list returns to.
func (h *licenseHandlers) invitationsBack(r *http.Request) string {
	prefix := "/accounts/" + AccessFrom(r).AccountID + "/licenses/"
	back := RedirectTarget(r.PostFormValue("back"), "")
	if !strings.HasPrefix(back, prefix) {
		return "/accounts/" + AccessFrom(r).AccountID + "/licenses"
	}
	return back
}

// invitationOf finds an invitation of the route's subscription that the
// caller may manage; another account's (or subscription's) is a 404.
func (h *licenseHandlers) invitationOf(w http.ResponseWriter, r *http.Request) (*license.Invitation, bool) {
	data, _, err := h.detailsData(r, r.PathValue("subscription"))
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	id := r.PathValue("invitation")
	if !ids.Valid(id) {
		h.notFound(w, r)
		return nil, false
	}
	invs, err := h.subscriptionInvitations(r, data["Keys"].([]*keyView), license.InvitationFilter{Limit: 50_000})
	if err != nil {
		h.fail(w, r, err)
		return nil, false
	}
	for i := range invs {
		if invs[i].ID == id {
			return &invs[i], true
		}
	}
	h.notFound(w, r)
	return nil, false
}

func (h *licenseHandlers) revokeInvitation(w http.ResponseWriter, r *http.Request) {
	inv, ok := h.invitationOf(w, r)
	if !ok {
		return
	}
	if inv.Status != license.InvitationPending {
		h.redirectFlash(w, r, h.invitationsBack(r), "error", "Nothing was revoked: the invitation to "+inv.Email+" is "+inv.Status+" already.")
		return
	}
	h.revoke(w, r, []string{inv.ID})
}

func (h *licenseHandlers) revokeInvitations(w http.ResponseWriter, r *http.Request) {
	if _, err := h.svc.Subscription(r.Context(), callerFrom(r), r.PathValue("subscription")); err != nil {
		h.fail(w, r, err)
		return
	}
	chosen := r.PostForm["invitation"]
	if len(chosen) == 0 {
		h.redirectFlash(w, r, h.invitationsBack(r), "error", "Select at least one invitation to revoke.")
		return
	}
	h.revoke(w, r, chosen)
}

func (h *licenseHandlers) revoke(w http.ResponseWriter, r *http.Request, chosen []string) {
	n, err := h.svc.RevokeInvitations(r.Context(), callerFrom(r), chosen, ActorFrom(r))
	if fe, ok := licenseFieldErrors(err, nil); ok {
		h.redirectFlash(w, r, h.invitationsBack(r), "error", fe["form"])
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	msg := fmt.Sprintf("%d %s revoked; %s no longer %s.", n, plural(n, "invitation is", "invitations are"), plural(n, "its code", "their codes"), plural(n, "works", "work"))
	if n == 0 {
		msg = "Nothing was revoked: the selected invitations were used or revoked already."
	}
	h.redirectFlash(w, r, h.invitationsBack(r), "success", msg)
}

func (h *licenseHandlers) resendInvitation(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.invitationOf(w, r); !ok {
		return
	}
	inv, err := h.svc.ResendInvitation(r.Context(), callerFrom(r), r.PathValue("invitation"), ActorFrom(r))
	if fe, ok := licenseFieldErrors(err, nil); ok {
		h.redirectFlash(w, r, h.invitationsBack(r), "error", fe["form"])
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.invitationsBack(r), "success", "The invitation to "+inv.Email+" is sent again with the same code; it is valid again for as long as it was first given.")
}
