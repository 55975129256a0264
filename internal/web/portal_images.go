package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"gatehouse/internal/portal"
	"gatehouse/internal/portal/linkcheck"
)

func (h *portalHandlers) imagesPage(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Golden Images") {
		return
	}
	imgs, err := h.svc.Images(r.Context(), callerFrom(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "portal_images", &Page{Title: "Golden Images", Data: map[string]any{"Images": imgs, "Inventory": h.inventoryLinks(r, imgs)}})
}

// inventoryLinks maps image ids to the inventory filtered by the image.
func (h *portalHandlers) inventoryLinks(r *http.Request, imgs []portal.Image) map[string]string {
	out := map[string]string{}
	if h.cfg.InventoryURL == nil {
		return out
	}
	for _, i := range imgs {
		out[i.ID] = h.cfg.InventoryURL(AccessFrom(r).AccountID, i.ID)
	}
	return out
}

func imageForm(img *portal.Image) url.Values {
	on := func(b bool) string {
		if b {
			return "1"
		}
		return ""
	}
	return url.Values{"name": {img.Name}, "description": {img.Description},
		"arm_enabled": {on(img.AppleSilicon.Enabled)}, "arm_url": {img.AppleSilicon.URL}, "arm_sha256": {img.AppleSilicon.SHA256},
		"intel_enabled": {on(img.Intel.Enabled)}, "intel_url": {img.Intel.URL}, "intel_sha256": {img.Intel.SHA256}}
}

func imageInput(f url.Values) portal.ImageInput {
	return portal.ImageInput{Name: f.Get("name"), Description: f.Get("description"),
		AppleSilicon: portal.Arch{Enabled: f.Get("arm_enabled") == "1", URL: f.Get("arm_url"), SHA256: f.Get("arm_sha256")},
		Intel:        portal.Arch{Enabled: f.Get("intel_enabled") == "1", URL: f.Get("intel_url"), SHA256: f.Get("intel_sha256")}}
}

// renderImageForm shows the golden image form; img is nil for a new one.
func (h *portalHandlers) renderImageForm(w http.ResponseWriter, r *http.Request, status int, img *portal.Image, form url.Values, errs map[string]string, checks map[string]any) {
	title := "New golden image"
	data := map[string]any{"Checks": checks}
	if img != nil {
		title = "Edit golden image"
		data["Image"] = img
		data["Inventory"] = h.inventoryLinks(r, []portal.Image{*img})[img.ID]
	}
	h.render(w, r, status, "portal_image_form", &Page{Title: title, Form: form, Errors: errs, Data: data})
}

func (h *portalHandlers) newImage(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Golden Images") {
		return
	}
	h.renderImageForm(w, r, http.StatusOK, nil, url.Values{"arm_enabled": {"1"}, "intel_enabled": {"1"}}, nil, nil)
}

func (h *portalHandlers) editImage(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Golden Images") {
		return
	}
	img, err := h.svc.Image(r.Context(), callerFrom(r), r.PathValue("image"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.renderImageForm(w, r, http.StatusOK, img, imageForm(img), nil, nil)
}

func (h *portalHandlers) saveImage(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Golden Images") {
		return
	}
	id := r.PathValue("image")
	var old *portal.Image
	if id != "" {
		var err error
		if old, err = h.svc.Image(r.Context(), callerFrom(r), id); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	img, err := h.svc.SaveImage(r.Context(), callerFrom(r), id, imageInput(r.PostForm), ActorFrom(r))
	if fe, ok := portal.IsFieldError(err); ok {
		h.renderImageForm(w, r, http.StatusUnprocessableEntity, old, r.PostForm, map[string]string{fe.Field: fe.Message}, nil)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	msg := fmt.Sprintf("Golden image “%s” created. Choose it in a policy to offer it to that policy's groups.", img.Name)
	if old != nil {
		msg = fmt.Sprintf("Golden image “%s” saved. Installations of its policies' groups are offered the new version at their next check-in; VMs already provisioned stay as they are.", img.Name)
	}
	h.redirectFlash(w, r, h.path(r, "/golden-images"), "success", msg)
}

// linkCheck is one architecture's Verify link result for the template.
type linkCheck struct {
	Arch   string
	URL    string
	Result *linkcheck.Result
	Error  string
}

// verifyLink checks the typed links of the form (never saving anything)
// and shows the form again with what it found.
func (h *portalHandlers) verifyLink(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Golden Images") {
		return
	}
	var old *portal.Image
	if id := r.PostFormValue("image_id"); id != "" {
		var err error
		if old, err = h.svc.Image(r.Context(), callerFrom(r), id); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	checks := map[string]any{}
	for _, a := range []struct{ key, label string }{{"arm", "Apple silicon"}, {"intel", "Intel"}} {
		raw := r.PostFormValue(a.key + "_url")
		if raw == "" {
			continue
		}
		c := linkCheck{Arch: a.label, URL: raw}
		if u, err := portal.CheckDownloadURL(a.key+"_url", raw); err != nil {
			fe, _ := portal.IsFieldError(err)
			c.Error = fe.Message
		} else if res, err := h.cfg.Links.Check(r.Context(), u); err != nil {
			var be *linkcheck.BlockedError
			if errors.As(err, &be) {
				c.Error = "Not checked: the link leads to " + be.Reason + " (" + be.Addr.String() + "). Gatehouse never connects to its own or private networks; Desktop downloads the file itself."
			} else {
				c.Error = "The link could not be reached: " + err.Error()
			}
		} else {
			c.Result = res
		}
		checks[a.key] = c
	}
	h.renderImageForm(w, r, http.StatusOK, old, r.PostForm, nil, checks)
}

func (h *portalHandlers) confirmDeleteImage(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Golden Images") {
		return
	}
	img, err := h.svc.Image(r.Context(), callerFrom(r), r.PathValue("image"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "portal_image_delete", &Page{Title: "Delete golden image",
		Data: map[string]any{"Image": img, "Inventory": h.inventoryLinks(r, []portal.Image{*img})[img.ID]}})
}

func (h *portalHandlers) deleteImage(w http.ResponseWriter, r *http.Request) {
	if !h.enterprise(w, r, "Golden Images") {
		return
	}
	c := callerFrom(r)
	img, err := h.svc.Image(r.Context(), c, r.PathValue("image"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	err = h.svc.DeleteImage(r.Context(), c, img.ID, ActorFrom(r))
	var inUse *portal.ImageInUseError
	if errors.As(err, &inUse) {
		img.VMs = inUse.VMs
		h.render(w, r, http.StatusConflict, "portal_image_delete", &Page{Title: "Delete golden image", Errors: map[string]string{"delete": inUse.Error()},
			Data: map[string]any{"Image": img, "Inventory": h.inventoryLinks(r, []portal.Image{*img})[img.ID]}})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.path(r, "/golden-images"), "success", fmt.Sprintf("Golden image “%s” deleted.", img.Name))
}
