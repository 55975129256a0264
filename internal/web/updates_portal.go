package web

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"gatehouse/internal/account"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
	"gatehouse/internal/updates"
	"gatehouse/internal/updates/deploycfg"
	"gatehouse/internal/updates/mobileconfig"
)

// The portal side of spec 06: Updates (account admins: what installations
// are told about updates, and the releases the account mirrors as its
// local update server) and Deployment (admins and license admins, for the
// keys they manage: deploy.cfg generator and checker, .mobileconfig).
// Every form works without JavaScript; downloads are POSTs because files
// with a license key reveal it (audited).

// UpdatesConfig configures the portal pages.
type UpdatesConfig struct {
	// Signer signs .mobileconfig downloads (nil: unsigned).
	Signer *mobileconfig.Signer
	// CodeRequirement overrides the PPPC payload's code requirement.
	CodeRequirement string
}

type updatesHandlers struct {
	*Server
	svc *updates.Service
	lic *license.Service
	cfg UpdatesConfig
}

// UpdatesRoutes returns the Updates and Deployment pages.
func UpdatesRoutes(s *Server, svc *updates.Service, lic *license.Service, cfg UpdatesConfig) []Route {
	h := &updatesHandlers{Server: s, svc: svc, lic: lic, cfg: cfg}
	f := func(fn http.HandlerFunc) http.Handler { return fn }
	const la, ad = account.RoleLicenseAdmin, account.RoleAdmin
	return []Route{
		{Method: "GET", Path: "/accounts/{account}/updates", Access: Member, Role: ad, Handler: f(h.updatesPage), Nav: "Updates", NavOrder: 60},
		{Method: "POST", Path: "/accounts/{account}/updates/settings", Access: Member, Role: ad, Handler: f(h.saveSettings)},
		{Method: "POST", Path: "/accounts/{account}/updates/mirrors", Access: Member, Role: ad, Handler: f(h.addMirror)},
		{Method: "POST", Path: "/accounts/{account}/updates/mirrors/{release}/remove", Access: Member, Role: ad, Handler: f(h.removeMirror)},

		{Method: "GET", Path: "/accounts/{account}/deployment", Access: Member, Role: la, Handler: f(h.deploymentPage), Nav: "Deployment", NavOrder: 65},
		{Method: "POST", Path: "/accounts/{account}/deployment/deploy.cfg", Access: Member, Role: la, Handler: f(h.generateDeployCfg)},
		{Method: "POST", Path: "/accounts/{account}/deployment/lint", Access: Member, Role: la, Handler: f(h.lintDeployCfg)},
		{Method: "POST", Path: "/accounts/{account}/deployment/mobileconfig", Access: Member, Role: la, Handler: f(h.generateMobileconfig)},
	}
}

// licensed reports whether the account holds a Business or Enterprise
// license the caller may see (the pages are for licensed accounts).
func (h *updatesHandlers) licensed(r *http.Request) (bool, error) {
	subs, err := h.lic.Subscriptions(r.Context(), callerFrom(r))
	if errors.Is(err, license.ErrForbidden) {
		return false, nil
	}
	return len(subs) > 0, err
}

func (h *updatesHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, license.ErrForbidden):
		h.forbidden(w, r, AccessFrom(r))
	case errors.Is(err, store.ErrNotFound):
		h.notFound(w, r)
	default:
		h.serverError(w, r, err)
	}
}

func (h *updatesHandlers) path(r *http.Request, rest string) string {
	return "/accounts/" + AccessFrom(r).AccountID + rest
}

// ---- Updates ----

func (h *updatesHandlers) updatesPage(w http.ResponseWriter, r *http.Request) {
	h.renderUpdates(w, r, http.StatusOK, nil, nil)
}

func (h *updatesHandlers) renderUpdates(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs map[string]string) {
	ok, err := h.licensed(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data := map[string]any{"Licensed": ok}
	if !ok {
		h.render(w, r, status, "updates", &Page{Title: "Updates", Data: data})
		return
	}
	acct := AccessFrom(r).AccountID
	st, err := h.svc.Settings(r.Context(), acct)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	mirrors, err := h.svc.Mirrors(r.Context(), acct)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	cands, err := h.svc.MirrorCandidates(r.Context(), acct)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var available []updates.Release
	for _, c := range cands {
		if c.MirrorState == "" {
			available = append(available, c.Release)
		}
	}
	client, err := h.svc.ClientSettingsFor(r.Context(), acct)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if form == nil {
		auto := ""
		if st.AutoDownload {
			auto = "1"
		}
		form = url.Values{"source": {st.Source}, "channel": {st.Channel}, "local_url": {st.LocalURL},
			"check_frequency": {st.CheckFrequency}, "auto_download": {auto}}
	}
	data["Settings"] = st
	data["Client"] = client
	data["LocalFeedURL"] = h.svc.LocalFeedURL(st.FeedToken)
	data["ChannelFeedURL"] = h.svc.ChannelFeedURL(st.Channel)
	data["Mirrors"] = mirrors
	data["Available"] = available
	data["Frequencies"] = updates.Frequencies()
	h.render(w, r, status, "updates", &Page{Title: "Updates", Form: form, Errors: errs, Data: data})
}

func (h *updatesHandlers) requireLicensed(w http.ResponseWriter, r *http.Request) bool {
	ok, err := h.licensed(r)
	if err != nil {
		h.fail(w, r, err)
		return false
	}
	if !ok {
		h.renderError(w, r, http.StatusForbidden, "No license yet", "Update settings and deployment files are for business accounts with a registered Business or Enterprise license. Register your license key first.")
		return false
	}
	return true
}

func (h *updatesHandlers) saveSettings(w http.ResponseWriter, r *http.Request) {
	if !h.requireLicensed(w, r) {
		return
	}
	in := updates.SettingsInput{Source: r.PostFormValue("source"), Channel: r.PostFormValue("channel"), LocalURL: r.PostFormValue("local_url"),
		CheckFrequency: r.PostFormValue("check_frequency"), AutoDownload: r.PostFormValue("auto_download") == "1"}
	if _, err := h.svc.SaveSettings(r.Context(), AccessFrom(r).AccountID, in, ActorFrom(r)); err != nil {
		if fe, ok := updates.IsFieldError(err); ok {
			h.renderUpdates(w, r, http.StatusUnprocessableEntity, r.PostForm, map[string]string{fe.Field: fe.Message})
			return
		}
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.path(r, "/updates"), "success", "Update settings saved. Installations pick them up at their next check-in.")
}

func (h *updatesHandlers) addMirror(w http.ResponseWriter, r *http.Request) {
	if !h.requireLicensed(w, r) {
		return
	}
	err := h.svc.AddMirror(r.Context(), AccessFrom(r).AccountID, r.PostFormValue("release"), ActorFrom(r))
	if fe, ok := updates.IsFieldError(err); ok {
		h.renderUpdates(w, r, http.StatusUnprocessableEntity, nil, map[string]string{"mirror": fe.Message})
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		h.renderUpdates(w, r, http.StatusUnprocessableEntity, nil, map[string]string{"mirror": "That release does not exist (any more)."})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.path(r, "/updates"), "success", "The release is being copied to your local update server. It joins your feed once its SHA-256 checks out.")
}

func (h *updatesHandlers) removeMirror(w http.ResponseWriter, r *http.Request) {
	if err := h.svc.RemoveMirror(r.Context(), AccessFrom(r).AccountID, r.PathValue("release"), ActorFrom(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.path(r, "/updates"), "success", "The release was removed from your local update server.")
}

// ---- Deployment ----

type keyChoice struct {
	ID, Label, Model, SubscriptionID string
}

// keyChoices lists the keys the caller manages (license admins: theirs).
func (h *updatesHandlers) keyChoices(r *http.Request) ([]keyChoice, error) {
	caller := callerFrom(r)
	subs, err := h.lic.Subscriptions(r.Context(), caller)
	if errors.Is(err, license.ErrForbidden) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []keyChoice
	for _, s := range subs {
		d, err := h.lic.Subscription(r.Context(), caller, s.ID)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, license.ErrForbidden) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, k := range d.Keys {
			name := k.Name
			if name == "" {
				name = license.KindLabel(k.Kind) + " key"
			}
			out = append(out, keyChoice{ID: k.ID, Label: fmt.Sprintf("%s — %s (…%s)", s.Label(), name, k.Last), Model: s.Model, SubscriptionID: s.ID})
		}
	}
	return out, nil
}

type varField struct {
	Name, Help, Allowed, Example string
	Options                      []string
	Value, Err                   string
}

type varSection struct {
	Title  string
	Fields []varField
}

type lintResult struct {
	File    string
	Diags   []deploycfg.Diagnostic
	Summary string
	Errors  int
}

func (h *updatesHandlers) deploymentPage(w http.ResponseWriter, r *http.Request) {
	h.renderDeployment(w, r, http.StatusOK, nil, nil, nil)
}

func (h *updatesHandlers) renderDeployment(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs map[string]string, lint *lintResult) {
	ok, err := h.licensed(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	data := map[string]any{"Licensed": ok, "Lint": lint, "Signed": h.cfg.Signer != nil}
	if !ok {
		h.render(w, r, status, "updates_deployment", &Page{Title: "Deployment", Data: data})
		return
	}
	keys, err := h.keyChoices(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if form == nil {
		form = url.Values{"experience": {"sso"}}
		// Start from the account's update settings.
		if cs, err := h.svc.ClientSettingsFor(r.Context(), AccessFrom(r).AccountID); err == nil {
			src := cs.Source
			if src == updates.SourceLocal {
				src = cs.FeedURL
			}
			form.Set("v_update_source", src)
			if cs.Source == updates.SourceVendor {
				form.Set("v_update_channel", cs.Channel)
			}
			if cs.Source != updates.SourceNone {
				form.Set("v_update_check_frequency", cs.CheckFrequency)
				form.Set("v_update_download_automatically", map[bool]string{true: "yes", false: "no"}[cs.AutoDownload])
			}
		}
	}
	if errs == nil {
		errs = map[string]string{}
	}
	var sections []varSection
	for _, sec := range deploycfg.Sections[1:] {
		vs := varSection{Title: string(sec)}
		for _, v := range deploycfg.Variables {
			if v.Section != sec {
				continue
			}
			vs.Fields = append(vs.Fields, varField{Name: v.Name, Help: v.Help, Allowed: v.Allowed(), Example: v.Example, Options: v.Values,
				Value: form.Get("v_" + v.Name), Err: errs["v_"+v.Name]})
		}
		sections = append(sections, vs)
	}
	data["Keys"] = keys
	data["Sections"] = sections
	data["IsAdmin"] = AccessFrom(r).IsAdmin()
	h.render(w, r, status, "updates_deployment", &Page{Title: "Deployment", Form: form, Errors: errs, Data: data})
}

// chosenKey checks the form's key and experience: the caller manages the
// key, its license allows the experience, and only admins put the key
// itself in a file. It returns the key (revealed for the key experience).
func (h *updatesHandlers) chosenKey(r *http.Request) (k keyChoice, experience, fullKey string, errs map[string]string, err error) {
	keys, err := h.keyChoices(r)
	if err != nil {
		return k, "", "", nil, err
	}
	id := r.PostFormValue("key_id")
	for _, c := range keys {
		if c.ID == id {
			k = c
		}
	}
	if k.ID == "" {
		return k, "", "", map[string]string{"key_id": "Choose one of your license keys."}, nil
	}
	experience = r.PostFormValue("experience")
	switch experience {
	case "sso":
		if k.Model == license.ModelPerDevice {
			return k, "", "", map[string]string{"experience": "This key's license is per-device: Desktop cannot activate it with SSO. Choose License key."}, nil
		}
	case "key":
		if k.Model == license.ModelPerUser {
			return k, "", "", map[string]string{"experience": "This key's license is per-user: Desktop activates it with SSO only. Choose SSO."}, nil
		}
		if !AccessFrom(r).IsAdmin() {
			return k, "", "", map[string]string{"experience": "Only account admins may put the license key itself in a file. Choose SSO, or ask an admin."}, nil
		}
		fullKey, err = h.lic.RevealKey(r.Context(), callerFrom(r), k.ID, ActorFrom(r))
		if err != nil {
			return k, "", "", nil, err
		}
	default:
		return k, "", "", map[string]string{"experience": "Choose SSO or License key."}, nil
	}
	return k, experience, fullKey, nil, nil
}

var (
	unsafeName  = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
	labelUnsafe = regexp.MustCompile(`[^a-z0-9-]+`)
)

func attachment(w http.ResponseWriter, contentType, name string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("Cache-Control", "no-store")
}

func (h *updatesHandlers) generateDeployCfg(w http.ResponseWriter, r *http.Request) {
	if !h.requireLicensed(w, r) {
		return
	}
	k, experience, fullKey, errs, err := h.chosenKey(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if errs != nil {
		h.renderDeployment(w, r, http.StatusUnprocessableEntity, r.PostForm, errs, nil)
		return
	}
	cfg := deploycfg.Config{Values: map[string]string{}}
	settings := map[string]any{}
	for _, v := range deploycfg.Variables {
		if v.Name == "license_key" || v.Deprecated != "" {
			continue
		}
		if val := strings.TrimSpace(r.PostFormValue("v_" + v.Name)); val != "" {
			cfg.Values[v.Name] = val
			settings[v.Name] = val
		}
	}
	errs = map[string]string{}
	if text := r.PostFormValue("vms"); strings.TrimSpace(text) != "" {
		f, diags := deploycfg.Parse("VM lines", []byte(text))
		var msgs []string
		for _, d := range diags {
			msgs = append(msgs, fmt.Sprintf("line %d, column %d: %s", d.Line, d.Column, d.Message))
		}
		if len(f.Assignments) > 0 {
			msgs = append(msgs, fmt.Sprintf("line %d: only VM lines (\"<source>\"=\"<destination>\") go here; set %s in its own field", f.Assignments[0].Line, f.Assignments[0].Name))
		}
		for _, vm := range f.VMs {
			cfg.VMs = append(cfg.VMs, deploycfg.VM{Source: vm.Source, Dest: vm.Dest, Mode: vm.Mode})
		}
		if len(msgs) > 0 {
			errs["vms"] = strings.Join(msgs, "; ")
		}
		settings["vms"] = len(cfg.VMs)
	}
	label := "SSO (company sign-in)"
	if experience == "key" {
		cfg.Values["license_key"] = fullKey
		label = "license key " + k.Label
	}
	cfg.Header = []string{"deploy.cfg for " + AccessFrom(r).AccountName + ", generated by Gatehouse",
		"Activation: " + label + " (key: " + k.Label + ")"}
	var out []byte
	if len(errs) == 0 {
		out, err = deploycfg.Generate(cfg)
		var probs deploycfg.Problems
		if errors.As(err, &probs) {
			for _, p := range probs {
				field := "v_" + p.Name
				if p.Name == "vm" {
					field = "vms"
				}
				if errs[field] == "" {
					errs[field] = p.Message
				} else {
					errs[field] += "; " + p.Message
				}
			}
		} else if err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if len(errs) > 0 {
		h.renderDeployment(w, r, http.StatusUnprocessableEntity, r.PostForm, errs, nil)
		return
	}
	if err := h.svc.RecordDeploymentFile(r.Context(), updates.DeploymentFile{AccountID: AccessFrom(r).AccountID, Kind: "deploy.cfg", KeyID: k.ID,
		KeyLabel: k.Label, Experience: experience, Settings: settings}, ActorFrom(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	attachment(w, "text/plain; charset=utf-8", "deploy.cfg")
	_, _ = w.Write(out)
}

func (h *updatesHandlers) lintDeployCfg(w http.ResponseWriter, r *http.Request) {
	name, data := "deploy.cfg", []byte(r.PostFormValue("text"))
	if r.MultipartForm != nil {
		if fhs := r.MultipartForm.File["file"]; len(fhs) > 0 && fhs[0].Size > 0 {
			f, err := fhs[0].Open()
			if err != nil {
				h.fail(w, r, err)
				return
			}
			data, err = io.ReadAll(io.LimitReader(f, deploycfg.MaxSize+1))
			f.Close()
			if err != nil {
				h.fail(w, r, err)
				return
			}
			if n := strings.TrimSpace(unsafeName.ReplaceAllString(fhs[0].Filename, "_")); n != "" {
				name = n
			}
		}
	}
	if len(data) == 0 {
		h.renderDeployment(w, r, http.StatusUnprocessableEntity, nil, map[string]string{"lint": "Choose a deploy.cfg file or paste its text."}, nil)
		return
	}
	diags := deploycfg.Lint(name, data)
	res := &lintResult{File: name, Diags: diags, Summary: deploycfg.Summary(name, diags), Errors: deploycfg.Errors(diags)}
	status := http.StatusOK
	if res.Errors > 0 {
		status = http.StatusUnprocessableEntity
	}
	h.renderDeployment(w, r, status, nil, nil, res)
}

// identifierPrefix is the reverse-DNS form of the public host
// (gatehouse.example.com → com.example.gatehouse).
func (h *updatesHandlers) identifierPrefix() string {
	host := "gatehouse.local"
	if u, err := url.Parse(h.Config.PublicURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	labels := strings.Split(strings.ToLower(host), ".")
	for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
		labels[i], labels[j] = labels[j], labels[i]
	}
	for i, l := range labels {
		labels[i] = strings.Trim(labelUnsafe.ReplaceAllString(l, "-"), "-")
		if labels[i] == "" {
			labels[i] = "x"
		}
	}
	if len(labels) < 2 {
		labels = append(labels, "gatehouse")
	}
	return strings.Join(labels, ".")
}

func (h *updatesHandlers) generateMobileconfig(w http.ResponseWriter, r *http.Request) {
	if !h.requireLicensed(w, r) {
		return
	}
	k, experience, fullKey, errs, err := h.chosenKey(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if errs != nil {
		for f, m := range errs {
			delete(errs, f)
			errs["mc_"+f] = m
		}
		h.renderDeployment(w, r, http.StatusUnprocessableEntity, r.PostForm, errs, nil)
		return
	}
	acc := AccessFrom(r)
	o := mobileconfig.Options{IdentifierPrefix: h.identifierPrefix(), AccountID: acc.AccountID, AccountName: acc.AccountName,
		KeyID: k.ID, KeyLabel: k.Label, Experience: experience, LicenseKey: fullKey, PPPC: r.PostFormValue("pppc") == "1",
		CodeRequirement: h.cfg.CodeRequirement}
	out, err := mobileconfig.Generate(o)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	signed := false
	if h.cfg.Signer != nil {
		if out, err = h.cfg.Signer.Sign(out); err != nil {
			h.fail(w, r, err)
			return
		}
		signed = true
	}
	if err := h.svc.RecordDeploymentFile(r.Context(), updates.DeploymentFile{AccountID: acc.AccountID, Kind: "mobileconfig", KeyID: k.ID,
		KeyLabel: k.Label, Experience: experience, Settings: map[string]any{"pppc": o.PPPC, "signed": signed, "identifier": o.PayloadIdentifier()}}, ActorFrom(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	name := "Desktop-activation-" + strings.Trim(unsafeName.ReplaceAllString(k.Label, "-"), "-") + ".mobileconfig"
	attachment(w, "application/x-apple-aspen-config", name)
	_, _ = w.Write(out)
}
