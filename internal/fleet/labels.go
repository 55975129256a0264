package fleet

// What the inventory (spec 05) shows for stored values.

// StateLabel: Running / Stopped / Suspended / Unknown.
func StateLabel(state string) string {
	switch state {
	case StateRunning:
		return "Running"
	case StateStopped:
		return "Stopped"
	case StateSuspended:
		return "Suspended"
	}
	return "Unknown"
}

// StatusLabel is the VM status column: "Desktop deactivated" when the
// installation's activation (license_activations.status) is no longer
// active, "Failed to delete" after a failed delete command, else "Active".
func StatusLabel(status, activationStatus string) string {
	switch {
	case activationStatus != "" && activationStatus != "active":
		return "Desktop deactivated"
	case status == StatusDeleteFailed:
		return "Failed to delete"
	}
	return "Active"
}

// EncryptionLabel: Not encrypted / Custom password / License-bound.
func EncryptionLabel(e string) string {
	switch e {
	case EncryptionCustomPassword:
		return "Custom password"
	case EncryptionLicenseBound:
		return "License-bound"
	}
	return "Not encrypted"
}

// CPULabel: Intel / Apple silicon ("" when not reported).
func CPULabel(cpu string) string {
	switch cpu {
	case CPUIntel:
		return "Intel"
	case CPUAppleSilicon:
		return "Apple silicon"
	}
	return ""
}

// DesktopStateLabel: Activated (SSO) / Activated (License key) / Deactivated.
func DesktopStateLabel(s string) string {
	switch s {
	case DesktopActivatedSSO:
		return "Activated (SSO)"
	case DesktopActivatedKey:
		return "Activated (License key)"
	case DesktopDeactivated:
		return "Deactivated"
	}
	return ""
}
