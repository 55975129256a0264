package app

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/clientapi"
	"gatehouse/internal/idp"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/saml"
	"gatehouse/internal/sso"
	"gatehouse/internal/store"
	"gatehouse/internal/web"
)

func init() { features = append(features, wireSSOActivation) }

// wireSSOActivation connects Desktop SSO activation (spec 04): the
// licensing service grants per-user seats, the SSO service signs people in,
// SCIM's effects revoke seats, and the client API, the browser pages and
// the inactivity job are mounted. It needs the licensing, IdP and SSO
// features wired before it.
func wireSSOActivation(_ context.Context, a *App) error {
	if a.License == nil || a.IdP == nil || a.SSO == nil || a.SSOEffects == nil {
		return errors.New("wire SSO activation: licensing, the IdP integration and SSO must be wired first")
	}
	svc := a.License
	svc.RecordSSOFailure = ssoFailureRecorder(a.DB, a.Log)
	scimActor := audit.Actor{Type: audit.ActorToken, ID: "scim", Label: "identity provider (SCIM)"}
	a.SSOEffects.OnRevoke = append(a.SSOEffects.OnRevoke, func(ctx context.Context, tx *store.Tx, accountID, personID, reason string) error {
		_, _, err := svc.RevokePersonTx(ctx, tx, accountID, personID, reason, scimActor)
		return err
	})
	a.Web.SetProductLicenseHolders(svc.ProductLicenseHolders)
	a.SSO.SeatPools = seatPoolPreview(svc)
	a.Web.Add(web.SSOActivationRoutes(a.Web, svc, a.SSO, web.SSOActivationConfig{
		DownloadURL:    a.Config.DownloadURL,
		ReservedGroups: reservedGroups(a.IdP),
	})...)
	client := clientapi.NewSSO(svc, clientapi.SSOConfig{
		PublicURL:        a.Config.PublicURL,
		AccountForDomain: a.IdP.AccountForDomain,
		Pending:          pendingRefusal(a),
		StartLimit:       clientapi.DefaultActivationLimit,
		ClientIP:         web.ClientIP,
		Log:              a.Log,
	})
	a.Web.Add(web.Route{Path: clientapi.SSOPrefix, Access: web.Machine, Handler: client})
	a.Jobs.Jobs = append(a.Jobs.Jobs, svc.InactivityJob(time.Hour))
	return nil
}

// ssoFailureRecorder writes refusals of SSO activation into the list of SSO
// failures admins read in the configurator (the sso package's table, the
// same columns its own refusals fill) and logs them.
func ssoFailureRecorder(db *store.DB, log *slog.Logger) license.SSOFailureRecorder {
	return func(ctx context.Context, accountID, code, detail, subject, ip string) string {
		ref := strings.ToUpper(ids.Secret(6))
		var acct any
		if accountID != "" {
			acct = accountID
		}
		if _, err := db.Exec(ctx, `INSERT INTO sso_failures (id, account_id, reference, at, purpose, code, detail, subject, source_ip)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ids.New(), acct, ref, store.Now(), saml.PurposeDesktop, code, detail, subject, ip); err != nil {
			log.Error("record sso activation failure", "err", err)
		}
		log.Warn("sso activation refused", "account_id", accountID, "code", code, "detail", detail, "reference", ref, "subject", subject, "ip", ip)
		return ref
	}
}

// seatPoolPreview shows the IdP configurator's test sign-in which key a
// Desktop user would take their per-user seat from.
func seatPoolPreview(svc *license.Service) sso.SeatPoolFunc {
	return func(ctx context.Context, accountID string, groups []string) (*sso.SeatPool, error) {
		p, err := svc.PreviewSeatPool(ctx, accountID, groups)
		if err != nil {
			return nil, err
		}
		out := &sso.SeatPool{KeyName: p.KeyName, Kind: p.Kind, Conflict: p.Conflict, Code: p.Code, Message: p.Message}
		for _, g := range p.Groups {
			out.Groups = append(out.Groups, sso.SeatPoolGroup{UUID: g.UUID, Name: g.Name})
		}
		return out, nil
	}
}

// reservedGroups names the configurator's two mapped groups, which cannot
// also select a seat pool.
func reservedGroups(svc *idp.Service) license.ReservedGroupsFunc {
	return func(ctx context.Context, accountID string) (map[string]string, error) {
		g, err := svc.Groups(ctx, accountID)
		if errors.Is(err, idp.ErrNotStarted) || errors.Is(err, store.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		out := map[string]string{}
		if g.AdminsUUID != "" {
			out[strings.ToLower(g.AdminsUUID)] = idp.GroupLabel(idp.GroupAdmins)
		}
		if g.DesktopUsersUUID != "" {
			out[strings.ToLower(g.DesktopUsersUUID)] = idp.GroupLabel(idp.GroupDesktopUsers)
		}
		return out, nil
	}
}

// attemptCodes are the refusals the licensing service records on the
// attempt itself; the others come from the shared SSO sign-in.
var attemptCodes = map[string]bool{
	license.CodeNotInDesktopUsers: true, license.CodeEmailMismatch: true, license.CodeNoFreeSeat: true, license.CodeDeviceLimit: true,
	license.CodeAttemptExpired: true, license.CodeAttemptUsed: true, license.CodeAttemptNotFound: true, license.CodeNoSSOLicense: true,
	license.CodeSubscriptionExpired: true, license.CodeSubscriptionSuspended: true, license.CodeKeyDeleted: true,
	license.CodeUnknownDomain: true, license.CodeInvalidVerifier: true,
}

// pendingRefusal finds why a pending attempt will never complete, so the
// installation hears it: the integration was switched off, or the shared
// SSO sign-in refused this person's answer at the ACS after the attempt
// started (the refusal the person saw, with its reference).
func pendingRefusal(a *App) func(ctx context.Context, at *license.SSOAttempt) *license.SSORefusal {
	return func(ctx context.Context, at *license.SSOAttempt) *license.SSORefusal {
		if active, err := a.IdP.IsActive(ctx, at.AccountID); err == nil && !active {
			return &license.SSORefusal{Code: license.CodeIntegrationInactive,
				Message: "Single sign-on was switched off for your organization while you were signing in. Ask your IT admin.",
				Detail:  "the IdP integration was deactivated during the activation of " + at.Device.ComputerName}
		}
		fails, err := a.SSO.RecentFailures(ctx, at.AccountID, 50)
		if err != nil {
			a.Log.Error("sso activation: recent failures", "err", err)
			return nil
		}
		for _, f := range fails {
			// The failure's subject is what the IdP sent; it is this
			// attempt's only when it is the same canonical address.
			subject, err := account.CanonicalEmail(f.Subject)
			if f.Purpose != saml.PurposeDesktop || f.At.Before(at.CreatedAt.Time) || err != nil || subject != at.Email || attemptCodes[f.Code] {
				continue
			}
			r := &license.SSORefusal{Code: f.Code, Detail: f.Detail, Reference: f.Reference}
			switch f.Code {
			case sso.ReasonIntegrationInactive:
				r.Message = "Single sign-on was switched off for your organization while you were signing in. Ask your IT admin."
			case sso.ReasonUserDeactivated:
				r.Message = "Your user is deactivated in your organization's identity provider. Ask your IT admin."
			case sso.ReasonMemberDeactivated:
				r.Message = "An admin of your organization deactivated your access. Ask your IT admin."
			case sso.ReasonNoEmail:
				r.Message = "Your identity provider did not send an email address for you. Ask your IT admin."
			default:
				r.Code = "saml_refused"
				r.Message = "Your organization's sign-in answer could not be accepted. Your IT admin can see the exact reason under the reference."
			}
			return r
		}
		return nil
	}
}
