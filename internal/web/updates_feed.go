package web

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"gatehouse/internal/updates"
)

// The public side of updates (spec 06): the channel feeds Desktop reads,
// each organisation's local update server feed, and the files both point
// at. They are machine routes: no session, no CSRF, plain-text errors.
// Feeds come from the service's cache and answer conditional GETs
// (ETag / Last-Modified → 304); files answer Range requests.

type updatesPublic struct {
	svc *updates.Service
	log func(msg string, args ...any)
}

// UpdatesPublicRoutes returns the feed and file routes.
func UpdatesPublicRoutes(s *Server, svc *updates.Service) []Route {
	h := &updatesPublic{svc: svc, log: s.Log.Error}
	f := func(fn http.HandlerFunc) http.Handler { return fn }
	return []Route{
		{Method: "GET", Path: "/updates/channels/{channel}/updates.xml", Access: Machine, Handler: f(h.channelFeed)},
		{Method: "GET", Path: "/updates/files/{release}/{name}", Access: Machine, Handler: f(h.releaseFile)},
		{Method: "GET", Path: "/updates/local/{token}/updates.xml", Access: Machine, Handler: f(h.localFeed)},
		{Method: "GET", Path: "/updates/local/{token}/files/{release}/{name}", Access: Machine, Handler: f(h.mirrorFile)},
	}
}

func (h *updatesPublic) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, updates.ErrNotFound) {
		http.Error(w, "Not found.", http.StatusNotFound)
		return
	}
	if r.Context().Err() != nil {
		return
	}
	ref := RequestID(r)
	h.log("updates", "path", logPath(r), "err", err, "request_id", ref)
	http.Error(w, "Internal error (reference "+ref+").", http.StatusInternalServerError)
}

func (h *updatesPublic) channelFeed(w http.ResponseWriter, r *http.Request) {
	doc, err := h.svc.ChannelFeed(r.Context(), r.PathValue("channel"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	serveFeed(w, r, doc)
}

func (h *updatesPublic) localFeed(w http.ResponseWriter, r *http.Request) {
	doc, err := h.svc.LocalFeed(r.Context(), r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	serveFeed(w, r, doc)
}

// serveFeed answers with the document, or 304 when the client's ETag or
// date still matches (http.ServeContent implements RFC 9110's precedence:
// If-None-Match before If-Modified-Since).
func serveFeed(w http.ResponseWriter, r *http.Request, doc *updates.FeedDoc) {
	hd := w.Header()
	hd.Set("Content-Type", "application/xml; charset=utf-8")
	hd.Set("ETag", doc.ETag)
	// Caches may keep it but must ask again (cheaply, with the ETag).
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", doc.LastModified, bytes.NewReader(doc.Body))
}

func (h *updatesPublic) releaseFile(w http.ResponseWriter, r *http.Request) {
	rel, rd, err := h.svc.ReleaseFile(r.Context(), r.PathValue("release"), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.serveFile(w, r, rel, rd)
}

func (h *updatesPublic) mirrorFile(w http.ResponseWriter, r *http.Request) {
	rel, rd, err := h.svc.MirrorFile(r.Context(), r.PathValue("token"), r.PathValue("release"), r.PathValue("name"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.serveFile(w, r, rel, rd)
}

// serveFile streams a stored file with Range support. A chunk whose bytes
// no longer match their SHA-256 stops the transfer (the client sees a short
// body, never wrong bytes) and is logged.
func (h *updatesPublic) serveFile(w http.ResponseWriter, r *http.Request, rel *updates.Release, rd *updates.BlobReader) {
	hd := w.Header()
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": rel.DownloadName()}))
	hd.Set("ETag", `"`+rd.SHA256()+`"`)
	if sum, err := hex.DecodeString(rd.SHA256()); err == nil {
		hd.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	}
	hd.Set("Cache-Control", "public, max-age=86400")
	rr := &readErr{rd: rd}
	// Installers are large: the server's write timeout would cut a slow
	// download, so the deadline moves with each write instead.
	dw := &deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w)}
	http.ServeContent(dw, r, "", rel.PublishedAt.Time, rr)
	if rr.err != nil && r.Context().Err() == nil {
		h.log("serve update file", "release", rel.UUID(), "err", rr.err, "request_id", RequestID(r))
	}
}

type readErr struct {
	rd  *updates.BlobReader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.rd.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}

func (e *readErr) Seek(off int64, whence int) (int64, error) { return e.rd.Seek(off, whence) }

type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(2 * time.Minute))
	return d.ResponseWriter.Write(p)
}
