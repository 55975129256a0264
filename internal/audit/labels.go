package audit

import "sort"

// labels name every audited event for people. The codes stay what the
// machine-readable outputs carry (CSV export, the filter's query string) and
// are shown as a tooltip; the audit log table and its filter show these.
// TestEveryAuditedActionHasALabel fails when code records an action that
// is missing here.
var labels = map[string]string{
	// Business accounts and people.
	"account.created":                 "Business account created",
	"account.profile_updated":         "Business profile changed",
	"person.signed_up":                "Person signed up",
	"person.password_reset_requested": "Password reset requested",
	"person.password_reset":           "Password reset",
	"person.email_confirmation_sent":  "Address confirmation sent",
	"person.email_verified":           "Address confirmed",
	"person.email_change_requested":   "Address change requested",
	"person.email_changed":            "Address changed",
	"person.linked_to_sso":            "Person linked to single sign-on",
	"person.address_canonicalized":    "Stored address rewritten in canonical form",
	"person.address_unusable":         "Stored address unusable",

	// Updates and deployment.
	"update.release_added":         "Release added",
	"update.release_file_uploaded": "Release file uploaded",
	"update.release_published":     "Release published",
	"update.release_promoted":      "Release promoted to business",
	"update.release_withdrawn":     "Release withdrawn",
	"update.mirror_added":          "Release mirror added",
	"update.mirror_ready":          "Release mirror ready",
	"update.mirror_failed":         "Release mirror failed",
	"update.mirror_removed":        "Release mirror removed",
	"update.settings_changed":      "Update settings changed",

	// Management Portal.
	"portal.image_created":     "Golden image created",
	"portal.image_updated":     "Golden image changed",
	"portal.image_deleted":     "Golden image deleted",
	"portal.policy_created":    "Policy created",
	"portal.policy_updated":    "Policy changed",
	"portal.policy_deleted":    "Policy deleted",
	"portal.policy_unassigned": "Policy unassigned (trial suspended)",
	"portal.profile_created":   "Configuration profile created",
	"portal.profile_updated":   "Configuration profile changed",
	"portal.profile_deleted":   "Configuration profile deleted",
	"portal.profile_applied":   "Configuration profile applied to a key",
	"portal.settings_purged":   "Enterprise settings purged after retention",

	"member.invited":               "Member invited",
	"member.invitation_revoked":    "Member invitation revoked",
	"member.joined":                "Member joined",
	"member.joined_via_sso":        "Member joined through SSO",
	"member.role_changed":          "Member role changed",
	"member.role_synced_from_idp":  "Member role set by the IdP",
	"member.deactivated":           "Member deactivated",
	"member.reactivated":           "Member reactivated",
	"member.sessions_ended_by_idp": "Sessions ended by the IdP",

	// Licensing.
	"license.subscription_issued":        "Subscription issued",
	"license.subscription_converted":     "Subscription converted",
	"license.subscription_extended":      "Subscription extended",
	"license.subscription_suspended":     "Subscription suspended",
	"license.subscription_resumed":       "Subscription resumed",
	"license.subscription_renamed":       "License renamed",
	"license.key_registered":             "License key registered",
	"license.key_register_refused":       "License key registration refused",
	"license.key_revealed":               "License key revealed",
	"license.key_updated":                "License key changed",
	"license.key_admin_assigned":         "License admin assigned to a key",
	"license.key_admin_removed":          "License admin removed from a key",
	"license.sublicense_created":         "Sublicense key created",
	"license.sublicense_deleted":         "Sublicense key deleted",
	"license.computers_deactivated":      "Computers deactivated",
	"license.invitations_sent":           "Invitations sent",
	"license.invitation_resent":          "Invitation sent again",
	"license.invitations_revoked":        "Invitations revoked",
	"license.operator_token_created":     "Vendor API token created",
	"license.enterprise_settings_purged": "Enterprise settings removed",
	"license.sso_settings_changed":       "SSO activation settings changed",
	"license.user_group_mapped":          "IdP group linked to a key",
	"license.user_group_unmapped":        "IdP group unlinked from a key",
	"license.user_seat_granted":          "SSO seat granted",
	"license.user_seat_revoked":          "SSO seat revoked",
	"device.activated":                   "Computer activated",
	"device.deactivated":                 "Computer deactivated from Desktop",

	// Fleet: VM commands (spec 05 Virtual Machines, spec 07).
	"fleet.command_queued":    "VM command sent",
	"fleet.command_cancelled": "VM command cancelled",
	"fleet.command_delivered": "VM command picked up by Desktop",
	"fleet.command_done":      "VM command done",
	"fleet.command_failed":    "VM command failed",

	// IdP integration.
	"idp.configuration_started":         "IdP integration started",
	"idp.provider_changed":              "Identity provider changed",
	"idp.step_confirmed":                "Configurator step marked done",
	"idp.domain_added":                  "Domain added",
	"idp.domain_removed":                "Domain removed",
	"idp.domain_verified":               "Domain verified",
	"idp.domain_verification_failed":    "Domain verification failed",
	"idp.domain_verification_restarted": "Domain verification restarted",
	"idp.group_mapped":                  "IdP group mapped",
	"idp.saml_settings_saved":           "SAML settings saved",
	"idp.metadata_uploaded":             "IdP metadata uploaded",
	"idp.backup_login_set":              "Backup login chosen",
	"idp.integration_activated":         "IdP integration activated",
	"idp.integration_deactivated":       "IdP integration deactivated",
	"idp.test_sign_in_started":          "Test sign-in started",
	"idp.test_sign_in_finished":         "Test sign-in finished",

	// SCIM provisioning.
	"scim.enabled":               "SCIM provisioning switched on",
	"scim.disabled":              "SCIM provisioning switched off",
	"scim.token_generated":       "SCIM token generated",
	"scim.token_regenerated":     "SCIM token regenerated",
	"scim.user_created":          "User provisioned by SCIM",
	"scim.user_updated":          "User updated by SCIM",
	"scim.user_deactivated":      "User deactivated by SCIM",
	"scim.user_reactivated":      "User reactivated by SCIM",
	"scim.user_deleted":          "User deleted by SCIM",
	"scim.group_created":         "Group provisioned by SCIM",
	"scim.group_updated":         "Group updated by SCIM",
	"scim.group_members_changed": "Group members changed by SCIM",
	"scim.group_deleted":         "Group deleted by SCIM",
}

// Label names action for people; an action without a label (recorded by
// an older version, say) shows its code.
func Label(action string) string {
	if l, ok := labels[action]; ok {
		return l
	}
	return action
}

// HasLabel reports whether action has a label of its own.
func HasLabel(action string) bool {
	_, ok := labels[action]
	return ok
}

// LabelledActions lists the actions that have a label, sorted.
func LabelledActions() []string {
	out := make([]string, 0, len(labels))
	for k := range labels {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
