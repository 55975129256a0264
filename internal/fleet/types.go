package fleet

import (
	"gatehouse/internal/store"
)

// VM states as reported (inventory: Running / Stopped / Suspended / Unknown).
const (
	StateRunning   = "running"
	StateStopped   = "stopped"
	StateSuspended = "suspended"
	StateUnknown   = "unknown"
)

// VM status, kept by the server. "Desktop deactivated" is not stored: it is
// the installation's activation status (license_activations.status).
const (
	StatusActive       = "active"
	StatusDeleteFailed = "delete_failed"
)

// VM sources and encryption values.
const (
	SourceGoldenImage = "golden_image"
	SourceOther       = "other"

	EncryptionNone           = "none"
	EncryptionCustomPassword = "custom_password"
	EncryptionLicenseBound   = "license_bound"
)

// Host CPU architectures and Desktop activation states as reported.
const (
	CPUIntel        = "intel"
	CPUAppleSilicon = "apple_silicon"

	DesktopActivatedSSO = "activated_sso"
	DesktopActivatedKey = "activated_key"
	DesktopDeactivated  = "deactivated"
)

// Command kinds and states.
const (
	CommandDelete     = "delete"
	CommandLock       = "lock"
	CommandRedownload = "redownload"
	CommandRestart    = "restart"

	CommandPending   = "pending"
	CommandDelivered = "delivered"
	CommandDone      = "done"
	CommandFailed    = "failed"
	CommandCancelled = "cancelled"
)

// Triggers a client checks in on (spec 07), plus the follow-up check-in
// that carries command results.
const (
	TriggerLaunch            = "launch"
	TriggerActivation        = "activation"
	TriggerVMCreated         = "vm_created"
	TriggerVMStateChanged    = "vm_state_changed"
	TriggerVMSettingsChanged = "vm_settings_changed"
	TriggerNetworkUp         = "network_up"
	TriggerDaily             = "daily"
	TriggerCommandResult     = "command_result"
)

// Triggers lists every accepted trigger.
var Triggers = []string{TriggerLaunch, TriggerActivation, TriggerVMCreated, TriggerVMStateChanged,
	TriggerVMSettingsChanged, TriggerNetworkUp, TriggerDaily, TriggerCommandResult}

// CommandKinds lists every command kind.
var CommandKinds = []string{CommandDelete, CommandLock, CommandRedownload, CommandRestart}

// Host is the host part of a report.
type Host struct {
	ComputerName   string
	MacSerial      string
	HardwareUUID   string
	MacOSUser      string
	CPU            string // intel, apple_silicon
	MacOSVersion   string
	DesktopVersion string
	DesktopState   string // activated_sso, activated_key, deactivated
}

// VMReport is one VM as an installation reports it.
type VMReport struct {
	ID            string // the client's VM ID (vm_uuid)
	Name          string
	State         string
	GuestOS       string
	OSEdition     string
	OSBuild       string
	Serial        string
	Source        string // golden_image, other
	GoldenImageID string // when Source is golden_image
	Encryption    string
	ToolsVersion  string
	LastUsedAt    store.Time
}

// VM is one inventory row.
type VM struct {
	ID               string // server id (used in URLs and commands)
	AccountID        string
	InstallationID   string
	KeyID            string
	VMReport                // what was reported (VMReport.ID is the client's VM ID)
	Status           string // active, delete_failed
	MacOSUser        string
	ComputerName     string
	MacSerial        string
	CPU              string
	DesktopVersion   string
	DesktopState     string
	LastCommandID    string
	LastCommandKind  string
	LastCommandState string
	FirstSeenAt      store.Time
	LastReportAt     store.Time
	LastSeenAt       store.Time
	GoneAt           store.Time
}

// Command is one queued command.
type Command struct {
	ID             string
	AccountID      string
	InstallationID string
	VMID           string // server id
	VMUUID         string // the client's VM ID
	Kind           string
	State          string
	Seq            int64
	Reason         string
	Deliveries     int
	CreatedBy      string // actor label
	CreatedAt      store.Time
	DeliveredAt    store.Time
	FinishedAt     store.Time
}

// Open reports whether the command still waits for the client.
func (c *Command) Open() bool { return c.State == CommandPending || c.State == CommandDelivered }
