package clientapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/clientip"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
	"gatehouse/internal/updates"
	"gatehouse/internal/updates/feed"
)

// Releases on the vendor API (spec 06), behind the same operator token:
//
//	POST /api/vendor/v1/releases                  {major, minor, sub?, subsub?, build, revision?, locale?, vendor?, platform?,
//	                                               codename?, name?, notes?, file_url?, sha256?, size?, released_at?} → 201 {release}
//	GET  /api/vendor/v1/releases?state=&channel=  → {releases}
//	GET  /api/vendor/v1/releases/{ref}            ref = id or feed uuid → {release} (with ancestors)
//	PUT  /api/vendor/v1/releases/{ref}/file?name= raw body (application/octet-stream): the file Gatehouse hosts → {release}
//	POST /api/vendor/v1/releases/{ref}/publish    {channel?: early|business, business_after?: "72h"} → {release}
//	POST /api/vendor/v1/releases/{ref}/withdraw   {reason?} → {release}

// mountReleases adds the release endpoints to the vendor API.
func (h *VendorHandler) mountReleases(svc *updates.Service) {
	rh := &releaseHandlers{v: h, svc: svc}
	h.mux.HandleFunc("POST "+VendorPrefix+"releases", rh.add)
	h.mux.HandleFunc("GET "+VendorPrefix+"releases", rh.list)
	h.mux.HandleFunc("GET "+VendorPrefix+"releases/{ref}", rh.show)
	h.mux.HandleFunc("PUT "+VendorPrefix+"releases/{ref}/file", rh.upload)
	h.mux.HandleFunc("POST "+VendorPrefix+"releases/{ref}/{action}", rh.action)
}

type releaseHandlers struct {
	v   *VendorHandler
	svc *updates.Service
}

// ReleaseJSON is a release on the vendor API (and `gatehouse vendor release --json`).
type ReleaseJSON struct {
	ID             string   `json:"id"`
	UUID           string   `json:"uuid"`
	Version        string   `json:"version"`
	Major          int      `json:"major"`
	Minor          int      `json:"minor"`
	Sub            int      `json:"sub"`
	SubSub         int      `json:"subsub"`
	Build          int      `json:"build"`
	Revision       int      `json:"revision"`
	Locale         string   `json:"locale"`
	Vendor         string   `json:"vendor"`
	Platform       string   `json:"platform"`
	Codename       string   `json:"codename,omitempty"`
	Name           string   `json:"name"`
	Notes          string   `json:"notes,omitempty"`
	FileURL        string   `json:"file_url,omitempty"`
	Hosted         bool     `json:"hosted"`
	FileName       string   `json:"file_name,omitempty"`
	SHA256         string   `json:"sha256,omitempty"`
	Size           int64    `json:"size"`
	FileSizeMB     int64    `json:"file_size_mb"`
	ReleasedAt     string   `json:"released_at"`
	State          string   `json:"state"`
	Channels       []string `json:"channels"`
	PublishedAt    string   `json:"published_at,omitempty"`
	BusinessAt     string   `json:"business_at,omitempty"`
	WithdrawnAt    string   `json:"withdrawn_at,omitempty"`
	WithdrawReason string   `json:"withdraw_reason,omitempty"`
	Ancestors      []string `json:"ancestors,omitempty"`
}

// ReleaseToJSON renders a release; download is the URL installations use.
func ReleaseToJSON(r *updates.Release, download string, now time.Time) ReleaseJSON {
	f := func(t store.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	name := r.Name
	if name == "" {
		name = feed.DefaultName(feed.Release{Major: r.Major, Minor: r.Minor, Sub: r.Sub, SubSub: r.SubSub, Build: r.Build})
	}
	ch := r.Channels(now)
	if ch == nil {
		ch = []string{}
	}
	out := ReleaseJSON{ID: r.ID, UUID: r.UUID(), Version: r.Version(), Major: r.Major, Minor: r.Minor, Sub: r.Sub, SubSub: r.SubSub,
		Build: r.Build, Revision: r.Revision, Locale: r.Locale, Vendor: r.Vendor, Platform: r.Platform, Codename: r.Codename,
		Name: name, Notes: r.Notes, Hosted: r.Hosted(), FileName: r.FileName, SHA256: r.SHA256, Size: r.Size,
		FileSizeMB: feed.FileSizeMB(r.Size), ReleasedAt: f(r.ReleasedAt), State: r.State, Channels: ch,
		PublishedAt: f(r.PublishedAt), BusinessAt: f(r.BusinessAt), WithdrawnAt: f(r.WithdrawnAt), WithdrawReason: r.WithdrawReason}
	if r.HasFile() {
		out.FileURL = download
	}
	return out
}

func (h *releaseHandlers) render(r *updates.Release) ReleaseJSON {
	return ReleaseToJSON(r, h.svc.FileURLFor(r), time.Now())
}

func (h *releaseHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	if fe, ok := updates.IsFieldError(err); ok {
		status := http.StatusUnprocessableEntity
		if fe.Field == "file" && strings.Contains(fe.Message, "larger than") {
			status = http.StatusRequestEntityTooLarge
		}
		writeJSON(w, status, map[string]any{"error": map[string]string{"code": "conflict", "message": fe.Message, "field": fe.Field}})
		return
	}
	if errors.Is(err, updates.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", "No release matches (give its id or its uuid desktop.<major>.<minor>.<build>.<revision>.<locale>.<vendor>.<platform>).")
		return
	}
	h.v.fail(w, r, err)
}

func operatorActor(r *http.Request) audit.Actor {
	a := license.OperatorActor("vendor API")
	a.IP = clientip.From(r)
	return a
}

type releaseRequest struct {
	Major      *int   `json:"major"`
	Minor      *int   `json:"minor"`
	Sub        *int   `json:"sub"`
	SubSub     *int   `json:"subsub"`
	Build      *int   `json:"build"`
	Revision   *int   `json:"revision"`
	Locale     string `json:"locale"`
	Vendor     string `json:"vendor"`
	Platform   string `json:"platform"`
	Codename   string `json:"codename"`
	Name       string `json:"name"`
	Notes      string `json:"notes"`
	FileURL    string `json:"file_url"`
	FileName   string `json:"file_name"`
	SHA256     string `json:"sha256"`
	Size       int64  `json:"size"`
	ReleasedAt string `json:"released_at"`
}

func (h *releaseHandlers) add(w http.ResponseWriter, r *http.Request) {
	var req releaseRequest
	if !decode(w, r, &req, false) {
		return
	}
	rel, err := h.svc.AddRelease(r.Context(), updates.ReleaseInput{Major: req.Major, Minor: req.Minor, Sub: req.Sub, SubSub: req.SubSub,
		Build: req.Build, Revision: req.Revision, Locale: req.Locale, Vendor: req.Vendor, Platform: req.Platform, Codename: req.Codename,
		Name: req.Name, Notes: req.Notes, FileURL: req.FileURL, FileName: req.FileName, SHA256: req.SHA256, Size: req.Size,
		ReleasedAt: req.ReleasedAt}, nil, operatorActor(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"release": h.render(rel)})
}

func (h *releaseHandlers) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	switch state {
	case "", updates.StateDraft, updates.StatePublished, updates.StateWithdrawn:
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "state must be draft, published or withdrawn.")
		return
	}
	rs, err := h.svc.ListReleases(r.Context(), updates.ReleaseFilter{State: state, Channel: q.Get("channel")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]ReleaseJSON, 0, len(rs))
	for i := range rs {
		out = append(out, h.render(&rs[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"releases": out})
}

func (h *releaseHandlers) show(w http.ResponseWriter, r *http.Request) {
	rel, err := h.svc.Release(r.Context(), r.PathValue("ref"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	anc, err := h.svc.Ancestry(r.Context(), rel)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := h.render(rel)
	out.Ancestors = anc
	writeJSON(w, http.StatusOK, map[string]any{"release": out})
}

// upload takes the raw file as the body; its size is bounded by the
// service (MaxFileSize), not by the JSON body limit.
func (h *releaseHandlers) upload(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/octet-stream" && !strings.HasPrefix(mt, "application/x-")) {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the file itself as application/octet-stream.")
			return
		}
	}
	// Installers are large: the server's read and write timeouts (made for
	// small JSON bodies) would cut the upload, so this request gets an hour.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(time.Hour))
	_ = rc.SetWriteDeadline(time.Now().Add(time.Hour))
	if r.ContentLength > h.svc.Config.MaxFileSize {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("Files may have at most %d bytes.", h.svc.Config.MaxFileSize))
		return
	}
	rel, err := h.svc.UploadFile(r.Context(), r.PathValue("ref"), r.URL.Query().Get("name"), r.Body, operatorActor(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"release": h.render(rel)})
}

type releaseActionRequest struct {
	Channel       string `json:"channel"`
	BusinessAfter string `json:"business_after"`
	Reason        string `json:"reason"`
}

func (h *releaseHandlers) action(w http.ResponseWriter, r *http.Request) {
	var req releaseActionRequest
	if !decode(w, r, &req, true) {
		return
	}
	var rel *updates.Release
	var err error
	switch r.PathValue("action") {
	case "publish":
		in := updates.PublishInput{Channel: req.Channel}
		if req.BusinessAfter != "" {
			d, perr := time.ParseDuration(req.BusinessAfter)
			if perr != nil {
				writeError(w, http.StatusBadRequest, "invalid_request", `Field "business_after" must be a duration such as 72h.`)
				return
			}
			in.BusinessAfter = &d
		}
		rel, err = h.svc.Publish(r.Context(), r.PathValue("ref"), in, operatorActor(r))
	case "withdraw":
		rel, err = h.svc.Withdraw(r.Context(), r.PathValue("ref"), req.Reason, operatorActor(r))
	default:
		writeError(w, http.StatusNotFound, "not_found", "No such action (publish, withdraw).")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"release": h.render(rel)})
}
