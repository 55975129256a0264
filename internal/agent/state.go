package agent

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// AppVersion is the Desktop version the reference client reports.
const AppVersion = "26.1.0-agent"

// State is what the reference client keeps on disk (<dir>/state.json, mode
// 0600): its simulated host and its license.
type State struct {
	Server       string       `json:"server,omitempty"`
	Device       Device       `json:"device"`
	Status       string       `json:"status"` // inactive, active, deactivated, expired, suspended…
	ActivationID string       `json:"activation_id,omitempty"`
	Credential   string       `json:"credential,omitempty"`
	Certificate  *Certificate `json:"certificate,omitempty"`
	License      *License     `json:"license,omitempty"`
	ValidUntil   time.Time    `json:"valid_until,omitzero"`
	CheckAfter   time.Time    `json:"check_after,omitzero"`
	PublicKeyPEM string       `json:"public_key_pem,omitempty"`
	LastCheck    time.Time    `json:"last_check,omitzero"`
	LastError    string       `json:"last_error,omitempty"`
	// Method is how the computer was activated (key, invitation, sso).
	Method string `json:"method,omitempty"`
	// Mac is the simulated host's VMs and check-in state.
	Mac *Mac `json:"mac,omitempty"`
	// Fresh is true when LoadState found no state and made a new device.
	Fresh bool `json:"-"`
}

const stateFile = "state.json"

// NewDevice returns a random simulated Mac: hardware UUID, 12-character
// serial, a computer name, the macOS user.
func NewDevice() Device {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	uuid := fmt.Sprintf("%X-%X-%X-%X-%X", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	user := os.Getenv("USER")
	if user == "" {
		user = "user"
	}
	models := []string{"MacBook Pro", "MacBook Air", "iMac", "Mac mini", "Mac Studio"}
	return Device{HardwareUUID: uuid, Serial: randomString(12, "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"),
		ComputerName: fmt.Sprintf("%s (%s)", models[randomInt(len(models))], randomString(4, "0123456789ABCDEF")),
		MacOSUser:    user, AppVersion: AppVersion}
}

func randomInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err)
	}
	return int(v.Int64())
}

func randomString(n int, alphabet string) string {
	out := make([]byte, n)
	for i := range out {
		out[i] = alphabet[randomInt(len(alphabet))]
	}
	return string(out)
}

// LoadState reads <dir>/state.json, or makes a fresh state with a new
// simulated device (not saved yet) when there is none.
func LoadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return &State{Device: NewDevice(), Status: "inactive", Mac: NewMac(), Fresh: true}, nil
	} else if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, stateFile), err)
	}
	if s.Mac == nil {
		s.Mac = NewMac()
	}
	return &s, nil
}

// Save writes the state atomically.
func (s *State) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".state-*.json")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, stateFile))
}

// Apply records a successful activation or check.
func (s *State) Apply(a *Activation, now time.Time) {
	s.Status = "active"
	s.ActivationID = a.ActivationID
	if a.Credential != "" {
		s.Credential = a.Credential
	}
	cert := a.Certificate
	s.Certificate = &cert
	lic := a.License
	s.License = &lic
	s.ValidUntil, s.CheckAfter = a.ValidUntil, a.CheckAfter
	s.LastCheck = now
	s.LastError = ""
}
