package sso

import "gatehouse/internal/saml"

// Advice explains a refusal to an admin: what went wrong, in their words,
// and what to change (mostly in the IdP). The test sign-in shows it next to
// the reason code.
type Advice struct {
	Title  string
	Change string
}

// AdminAdvice returns the advice for a refusal code (the SAML validator's
// or this package's).
func AdminAdvice(code string) Advice {
	if a, ok := advice[code]; ok {
		return a
	}
	return Advice{Title: "The answer was refused",
		Change: "Compare the IdP's application settings with step 4 of this configurator; the details line says which check failed."}
}

var advice = map[string]Advice{
	// The SAML validator.
	saml.CodeMalformed: {"The IdP's answer is not a SAML response Gatehouse can read",
		"Make sure the IdP application is a SAML 2.0 application and that its Reply URL (ACS URL) is exactly the one in step 4. The details line names the part that could not be read."},
	saml.CodeDTDForbidden: {"The answer contains a document type declaration",
		"Gatehouse never accepts XML with a DTD or entity declarations. A normal IdP does not send them; check that nothing between the IdP and Gatehouse rewrites the answer."},
	saml.CodeStatusNotSuccess: {"The IdP did not confirm the sign-in",
		"The IdP answered with an error status, usually because the user is not assigned to the Gatehouse application. Assign the user (or a group they are in) to the application in the IdP and try again."},
	saml.CodeStatusContradictory: {"The IdP's answer contradicts itself",
		"The answer says both success and failure (for example a success status with a nested error). Gatehouse refuses such answers; check the IdP application's settings and any plug-in that modifies its answers."},
	saml.CodeTooManyElements: {"The answer is too large to verify",
		"The IdP sent more elements (usually groups) than Gatehouse checks. In the IdP, send only the groups assigned to the application (for example Entra ID's “Groups assigned to the application” or a group filter in Okta)."},
	saml.CodeMultipleAssertions: {"The answer carries more than one assertion",
		"Gatehouse accepts exactly one assertion per answer. Check the IdP application's SAML settings; a standard configuration sends one."},
	saml.CodeDuplicateID: {"Two elements of the answer share an ID",
		"This happens only when something altered the answer on its way. Check for proxies or plug-ins between the IdP and Gatehouse."},
	saml.CodeEncryptedAssertion: {"The assertion is encrypted",
		"Gatehouse does not use assertion encryption. Switch off assertion (token) encryption in the IdP application; the answer travels over HTTPS."},
	saml.CodeSignatureMissing: {"The answer is not signed",
		"Set the IdP application to sign the assertion (or the response and the assertion). Unsigned answers are never accepted."},
	saml.CodeSignatureInvalid: {"The signature does not verify",
		"The signed content does not match its signature. Download the IdP's current metadata (or signing certificate) and upload it in step 4, and make sure nothing rewrites the answer on its way."},
	saml.CodeUnknownCertificate: {"The answer is signed with a certificate Gatehouse does not know",
		"The IdP signed with a certificate that is not saved in step 4 — typically after a certificate rollover. Download the IdP's current metadata or signing certificate and upload it in step 4."},
	saml.CodeCertificateExpired: {"The IdP's signing certificate has expired",
		"Create or activate a new signing certificate in the IdP application, then upload it (or the new metadata) in step 4."},
	saml.CodeWeakAlgorithm: {"The answer is signed with a weak algorithm",
		"Set the IdP application's signing algorithm to RSA-SHA256 (and the digest to SHA-256); SHA-1 is refused."},
	saml.CodeIssuerMismatch: {"The answer comes from another IdP entity ID",
		"The Issuer in the answer is not the IdP entity ID saved in step 4. Copy the IdP's entity ID (Identifier, Issuer) exactly into step 4, or upload its metadata."},
	saml.CodeAudienceMismatch: {"The answer is meant for another application",
		"In the IdP application, set the Audience (Identifier, Entity ID, Audience URI) to exactly the SP entity ID shown in step 4."},
	saml.CodeDestinationMismatch: {"The answer is addressed to another URL",
		"In the IdP application, set the Reply URL (ACS URL, Single sign-on URL) to exactly the ACS URL shown in step 4."},
	saml.CodeRecipientMismatch: {"The answer is addressed to another URL",
		"In the IdP application, set the Reply URL (ACS URL, Recipient) to exactly the ACS URL shown in step 4."},
	saml.CodeInResponseToMissing: {"The sign-in did not start at Gatehouse",
		"Gatehouse accepts only sign-ins it started (no IdP-initiated sign-in from the IdP's app portal). Start the test from this configurator, not from the IdP's dashboard."},
	saml.CodeInResponseToUnknown: {"The answer does not belong to a sign-in Gatehouse started",
		"Start a new test from this configurator and finish it in the tab it opens; an answer from an older or another sign-in is refused."},
	saml.CodeRequestExpired: {"The sign-in took too long",
		"The sign-in at the IdP must finish within 10 minutes of starting. Start a new test."},
	saml.CodeRequestUsed: {"This sign-in was already answered",
		"Each sign-in accepts one answer. Start a new test."},
	saml.CodeBrowserMismatch: {"The answer arrived in another browser",
		"Finish the sign-in in the same browser that started it, and allow cookies for Gatehouse. Start a new test."},
	saml.CodeWrongAccount: {"The answer belongs to another business account",
		"In the IdP application, set the Reply URL (ACS URL) to the one shown in step 4 of this business account."},
	saml.CodeNotYetValid: {"The answer is not valid yet",
		"The IdP's clock and Gatehouse's differ by more than 3 minutes. Check the time of the IdP server (for an on-premises IdP) and try again."},
	saml.CodeExpired: {"The answer has expired",
		"The answer arrived after its validity ended. Check the IdP server's clock and the assertion lifetime in the IdP application, then try again."},
	saml.CodeReplay: {"This answer was already used",
		"Each answer is accepted once. Start a new test."},
	saml.CodeUnsupportedCondition: {"The answer has a condition Gatehouse does not support",
		"Remove extra conditions (such as proxy restrictions) from the IdP application's SAML settings; Gatehouse needs only the audience and the validity period."},

	// Identity linking and this package.
	ReasonIdPIncomplete: {"The IdP's SAML settings are not complete",
		"Enter the IdP entity ID, SSO URL and a valid signing certificate in step 4 (or upload the IdP's metadata)."},
	ReasonAddressInvalid: {"The user name or address is not acceptable",
		"Send the user's email address (for example user.mail or user.userprincipalname) as the NameID or the name attribute, without display names, comments or spaces."},
	ReasonNoEmail: {"The IdP sent no email address",
		"Map the user's email address to the NameID (format emailAddress) or to the name attribute listed in step 4."},
	ReasonDomainNotVerified: {"The address is at a domain this account has not verified",
		"Either add and verify the domain in step 1, or make the IdP send the user's address at one of your verified domains."},
	ReasonSpellingMismatch: {"The address is written differently from the existing Gatehouse user",
		"The IdP's address and the Gatehouse user's are the same address written differently (for example another form of the domain). Make the IdP send the address exactly as the user has it in Gatehouse."},
	ReasonPersonUnverified: {"The matching Gatehouse user never confirmed the address",
		"Someone created a Gatehouse account with this address but never proved it is theirs. The owner of the address chooses a password with “Forgot your password?” on the sign-in page; after that, SSO links to them."},
	ReasonIdentityConflict: {"The user is already linked to another IdP identity",
		"The address now belongs to a different user in the IdP than the one Gatehouse linked earlier (a reused or edited address). Make sure each person keeps their own IdP user; if the address really moved, deactivate the old person under Users first."},
	ReasonUserDeactivated: {"The user is deactivated in the IdP",
		"SCIM reported this user as inactive. Reactivate the user in the IdP (provisioning updates Gatehouse) if they should sign in."},
	ReasonMemberDeactivated: {"The member is deactivated in Gatehouse",
		"An admin deactivated this member under Users. Reactivate them there if they should sign in."},
	ReasonIntegrationInactive: {"Single sign-on is not active",
		"Activate the integration at the top of this page once every step is complete."},
	ReasonNotInDesktopUsers: {"The user is not in the Desktop Users group",
		"Add the user to the group mapped as Desktop Users in step 3, and make the IdP send that group in the groups attribute."},
	ReasonTestFinished: {"This test has already finished",
		"Start a new test from this configurator."},
}
