package fleet

import "testing"

func TestLabels(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{CommandLabel(CommandDelete, CommandPending), "Pending delete"},
		{CommandLabel(CommandLock, CommandDelivered), "Pending lock"},
		{CommandLabel(CommandRestart, CommandFailed), "Failed to restart"},
		{CommandLabel(CommandRedownload, CommandDone), "Done"},
		{CommandLabel("", ""), "None"},
		{StatusLabel(StatusActive, "deactivated"), "Desktop deactivated"},
		{StatusLabel(StatusDeleteFailed, "active"), "Failed to delete"},
		{StatusLabel(StatusActive, "active"), "Active"},
		{StateLabel("weird"), "Unknown"},
		{EncryptionLabel(EncryptionLicenseBound), "License-bound"},
		{CPULabel(CPUAppleSilicon), "Apple silicon"},
		{DesktopStateLabel(DesktopActivatedKey), "Activated (License key)"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
