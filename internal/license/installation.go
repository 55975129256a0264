package license

import (
	"time"

	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// CredentialHash returns what license_activations.credential_hash holds for
// a device credential, or the unauthorized refusal when the value cannot be
// a credential. Other features that authenticate installations (fleet
// check-ins) join license_activations on it in their own hot query.
func CredentialHash(credential string) (string, *DeviceError) {
	if !validCredential(credential) {
		return "", deviceErr(CodeUnauthorized, "Missing or unknown device credential.")
	}
	return ids.Hash(credential), nil
}

// UnknownCredential is the refusal for a credential no activation has.
func UnknownCredential() *DeviceError {
	return deviceErr(CodeUnauthorized, "Missing or unknown device credential.")
}

// InstallationRefusal returns why an activation (status, method,
// deactivated_by) of a subscription (status, ends_at, purged_at) may not use
// the service at now, with the same codes and words a license check gives,
// or nil.
func InstallationRefusal(status, method, deactivatedBy, subStatus string, endsAt, purgedAt store.Time, now time.Time) *DeviceError {
	if status != "active" {
		if method == MethodSSO {
			return ssoRefusalOf(deactivatedBy)
		}
		return deviceErr(CodeDeactivated, "This computer's license was deactivated.")
	}
	return subscriptionRefusal(subStatus, endsAt, purgedAt, now)
}
