package web

import (
	"gatehouse/internal/license/invitations"
	"net/http"
	"net/url"
	"strings"
)

// /download is the link admins hand out (with experience=sso, spec 04) and
// the personal link of invitation emails (with code=…, spec 02). It
// redirects to the installer of the current release on the visitor's
// update channel (spec 06: channel=early|business, else the channel of the
// invitation's organisation, else business; see updates_download.go), or
// to the configured installer URL (--download-url) when no release is
// published, carrying the experience and the code to the installed client
// as query parameters (macOS keeps the download URL with the file, where
// Desktop reads which experience to open first); with neither it shows how
// Desktop would be installed and activated.

func (h *ssoActivationHandlers) download(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	experience := strings.ToLower(strings.TrimSpace(q.Get("experience")))
	switch experience {
	case "", "sso", "key":
	default:
		h.renderError(w, r, http.StatusBadRequest, "Unknown download link",
			"This download link asks for an activation experience Gatehouse does not know ("+shortText(experience, 40)+"). Use experience=sso or experience=key, or ask your IT admin for the link again.")
		return
	}
	code := ""
	if raw := q.Get("code"); raw != "" {
		norm, err := invitations.NormalizeCode(raw)
		if err != nil {
			h.renderError(w, r, http.StatusBadRequest, "This activation code is not valid",
				"The code in this link is incomplete or mistyped. Open the link from your invitation email again, or copy the code from it.")
			return
		}
		code = norm
		if experience == "" {
			experience = "key"
		}
	}
	channel := strings.ToLower(strings.TrimSpace(q.Get("channel")))
	switch channel {
	case "", "business", "early":
	default:
		h.renderError(w, r, http.StatusBadRequest, "Unknown download link",
			"This download link asks for an update channel Gatehouse does not know ("+shortText(channel, 40)+"). Use channel=business or channel=early, or ask your IT admin for the link again.")
		return
	}
	target := h.cfg.DownloadURL
	if h.installer != nil {
		u, err := h.installer(r.Context(), channel, code, acceptLocales(r.Header.Get("Accept-Language")))
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		if u != "" {
			target = u
		}
	}
	if target != "" {
		u, err := url.Parse(target)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		vals := u.Query()
		if experience != "" {
			vals.Set("experience", experience)
		}
		if code != "" {
			vals.Set("code", code)
		}
		u.RawQuery = vals.Encode()
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, u.String(), http.StatusFound)
		return
	}
	h.render(w, r, http.StatusOK, "ssoactivation_download", &Page{Title: "Install Desktop", Data: map[string]any{
		"Experience": experience, "Code": code, "PublicURL": h.Config.PublicURL}})
}

func shortText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
