package web

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"gatehouse/internal/fleet"
	"gatehouse/internal/license"
)

// Remote commands from the inventory: Delete / Lock / Redownload / Restart
// for one VM (its page) or a selection (the list), always through a
// confirmation page that names the VMs; the fleet service queues them (one
// transaction, audited) and the computers pick them up at their next
// check-in. A pending command can be cancelled until it is delivered.

// commandWords are the words the confirmation uses for each command.
var commandWords = map[string]struct{ Verb, Effect string }{
	fleet.CommandDelete:     {"Delete", "Desktop deletes %s from %s at its next check-in. This cannot be undone. A computer left without VMs offers the golden image of its policy again."},
	fleet.CommandLock:       {"Lock", "Desktop locks %s on %s at its next check-in: the VM stops and opens again only with its password."},
	fleet.CommandRedownload: {"Redownload", "Desktop deletes %s from %s at its next check-in and downloads it again from its golden image: everything changed inside the VM since it was provisioned is lost."},
	fleet.CommandRestart:    {"Restart", "Desktop restarts %s on %s at its next check-in; unsaved work inside the VM may be lost."},
}

// supports says whether kind applies to m: a gone VM takes no command,
// and only VMs provisioned from a golden image can be downloaded again.
func supports(kind string, m *fleet.InventoryRow) (bool, string) {
	switch {
	case m.Gone():
		return false, "its computer no longer reports it"
	case kind == fleet.CommandRedownload && m.Source != fleet.SourceGoldenImage:
		return false, "it was not provisioned from a golden image"
	}
	return true, ""
}

func vmItem(m *fleet.InventoryRow) string {
	s := m.Name
	if s == "" {
		s = "VM " + m.VMReport.ID
	}
	if m.ComputerName != "" {
		s += " on " + m.ComputerName
	}
	if m.MacOSUser != "" {
		s += " (" + m.MacOSUser + ")"
	}
	return s
}

// commands asks for confirmation (listing the VMs the command applies
// to, and saying which it skips and why), then queues the command.
func (h *inventoryHandlers) commands(w http.ResponseWriter, r *http.Request) {
	if !h.requireEnterprise(w, r) {
		return
	}
	back := h.back(r)
	kind := r.PostFormValue("kind")
	words, ok := commandWords[kind]
	if !ok {
		h.redirectFlash(w, r, back, "error", "Choose Delete, Lock, Redownload or Restart.")
		return
	}
	chosen := r.PostForm["vm"]
	if len(chosen) == 0 {
		h.redirectFlash(w, r, back, "error", "Select at least one VM first (tick the boxes in the first column).")
		return
	}
	caller := callerFrom(r)
	rows, err := h.inv.Visible(r.Context(), caller, chosen)
	var fe *fleet.FilterError
	if errors.As(err, &fe) {
		h.redirectFlash(w, r, back, "error", fe.Message)
		return
	} else if err != nil {
		h.failFleet(w, r, back, err)
		return
	}
	var apply []string
	var items, skipped []string
	for i := range rows {
		if ok, why := supports(kind, &rows[i]); ok {
			apply = append(apply, rows[i].ID)
			items = append(items, vmItem(&rows[i]))
		} else {
			skipped = append(skipped, fmt.Sprintf("%s: %s", vmItem(&rows[i]), why))
		}
	}
	if len(apply) == 0 {
		msg := "None of the selected VMs can take this command."
		if len(skipped) > 0 {
			msg = fmt.Sprintf("%s is not possible for the selected %s: %s.", words.Verb, plural(len(skipped), "VM", "VMs"), strings.Join(skipped, "; "))
		}
		h.redirectFlash(w, r, back, "error", msg)
		return
	}
	if r.PostFormValue("confirm") != "1" || len(apply) != len(slices.Compact(slices.Sorted(slices.Values(chosen)))) {
		n := len(apply)
		fields := []hiddenField{{"confirm", "1"}, {"kind", kind}, {"back", back}}
		for _, id := range apply {
			fields = append(fields, hiddenField{"vm", id})
		}
		msg := fmt.Sprintf(words.Effect, plural(n, "this VM", "these VMs"), plural(n, "its Mac", "their Macs"))
		msg += " Until the computer reports the result, the VM shows “Pending " + kind + "”; you can cancel the command while it has not been picked up."
		if len(skipped) > 0 {
			msg += fmt.Sprintf(" Left out: %s.", strings.Join(skipped, "; "))
		}
		h.render(w, r, http.StatusOK, "license_confirm", &Page{Title: words.Verb + " VMs?", Data: &confirmView{
			Heading: fmt.Sprintf("%s %d %s?", words.Verb, n, plural(n, "VM", "VMs")), Message: msg, Items: items,
			Action: h.vmsPath(r, "/commands"), Fields: fields, Button: words.Verb, Danger: kind == fleet.CommandDelete || kind == fleet.CommandRedownload,
			Cancel: back}})
		return
	}
	queued, err := h.cmds.Enqueue(r.Context(), caller, ActorFrom(r), kind, apply)
	if err != nil {
		h.failFleet(w, r, back, err)
		return
	}
	n := len(queued)
	h.redirectFlash(w, r, back, "success", fmt.Sprintf("%s is queued for %d %s; %s it up at %s next check-in.", words.Verb, n,
		plural(n, "VM", "VMs"), plural(n, "its computer picks", "their computers pick"), plural(n, "its", "their")))
}

// cancelCommand cancels one pending command.
func (h *inventoryHandlers) cancelCommand(w http.ResponseWriter, r *http.Request) {
	if !h.requireEnterprise(w, r) {
		return
	}
	back := h.back(r)
	if err := h.cmds.Cancel(r.Context(), callerFrom(r), ActorFrom(r), []string{r.PathValue("command")}); err != nil {
		h.failFleet(w, r, back, err)
		return
	}
	h.redirectFlash(w, r, back, "success", "The command is cancelled; the computer will not receive it.")
}

// failFleet answers a fleet service error: its message for people when it
// has one, 403 for a role that may not see the fleet.
func (h *inventoryHandlers) failFleet(w http.ResponseWriter, r *http.Request, back string, err error) {
	if fe, ok := fleet.IsError(err); ok {
		h.redirectFlash(w, r, back, "error", fe.Message)
		return
	}
	if errors.Is(err, license.ErrForbidden) {
		h.forbidden(w, r, AccessFrom(r))
		return
	}
	h.serverError(w, r, err)
}
