package idp

// Provider is an identity provider variant with its console instructions.
//
// Instruction text uses two marks the web layer renders: **…** for the
// names of buttons, menus and fields as the IdP's console shows them, and
// `…` for values to type exactly.
type Provider struct {
	ID   string
	Name string
	// GroupIDIsName: the IdP sends group names (not ids) in the SAML groups
	// attribute and as SCIM displayName, so the mapped "UUID" is the name.
	GroupIDIsName bool
	// HasSCIM: the IdP can provision over SCIM 2.0.
	HasSCIM bool
	// UUIDLabel is what the IdP calls the group identifier to copy.
	UUIDLabel string
	// Highlights are the few things that differ for this IdP, shown at the top.
	Highlights []string
	// Guides holds the IdP-side instructions of steps 2–6.
	Guides map[int]Guide
	// MetadataFrom says where the IdP offers its SAML metadata file, for
	// the message when an upload is not usable.
	MetadataFrom string
}

// Guide is the IdP-side part of one step.
type Guide struct {
	Intro string
	Items []string // numbered actions
	Note  string
}

// Attribute is one SAML attribute Gatehouse expects from the IdP.
type Attribute struct {
	Name   string // as the IdP must send it
	Source string // where it comes from in this IdP
	Why    string
}

// Attributes lists what the IdP must send, in its own terms.
func (p *Provider) Attributes() []Attribute {
	src := map[string][4]string{
		ProviderEntra:     {"user.userprincipalname (default claim)", "user.objectid (default claim)", "user.displayname (default claim)", "Group claim: Group ID"},
		ProviderOkta:      {"user.login", "user.id", "user.displayName", "Group attribute statement (group names)"},
		ProviderPing:      {"Email Address", "User ID", "given + family name expression", "Group IDs"},
		ProviderJumpCloud: {"email", "username (or employeeIdentifier)", "displayname", "Group attribute named groups"},
		ProviderGoogle:    {"Primary email", "Employee ID (or Primary email)", "First name / full name", "Group membership → groups"},
		ProviderOther:     {"the login / email address", "a stable, never reused user id", "the full name", "the ids of every group the user is in"},
	}[p.ID]
	names := [4]string{"name", "objectidentifier", "displayname", "groups"}
	if p.ID == ProviderEntra {
		names = [4]string{"…/claims/name", "…/claims/objectidentifier", "…/claims/displayname", "…/claims/groups"}
	}
	why := [4]string{"sign-in name, matched with SCIM userName", "stable id that links SAML and SCIM (SCIM externalId)",
		"shown in Gatehouse", "admins and Desktop Users membership (multi-valued)"}
	out := make([]Attribute, 4)
	for i := range out {
		out[i] = Attribute{Name: names[i], Source: src[i], Why: why[i]}
	}
	return out
}

// Providers lists the variants in the order the chooser shows them.
func Providers() []*Provider {
	return []*Provider{providerEntra, providerOkta, providerPing, providerJumpCloud, providerGoogle, providerOther}
}

// ProviderByID returns a variant, or nil.
func ProviderByID(id string) *Provider {
	for _, p := range Providers() {
		if p.ID == id {
			return p
		}
	}
	return nil
}

var providerEntra = &Provider{
	ID: ProviderEntra, Name: "Microsoft Entra ID", HasSCIM: true, UUIDLabel: "Object ID",
	MetadataFrom: "In Microsoft Entra ID, open the Gatehouse app's Single sign-on page and download Federation Metadata XML under SAML Certificates.",
	Highlights: []string{
		"Group UUIDs are the groups' **Object ID** values.",
		"In SCIM provisioning, map **externalId** from `objectId` (step 5) so SAML and SCIM identify people the same way.",
		"Assigning groups to an enterprise app needs Microsoft Entra ID P1 or P2.",
	},
	Guides: map[int]Guide{
		2: {Intro: "Create a non-gallery enterprise application for Gatehouse.", Items: []string{
			"Sign in to the **Microsoft Entra admin center** (entra.microsoft.com) as a Cloud Application Administrator or Application Administrator.",
			"Open **Identity › Applications › Enterprise applications** and click **New application**.",
			"Click **Create your own application**, name it (for example `Gatehouse`), choose **Integrate any other application you don't find in the gallery (Non-gallery)** and click **Create**.",
			"In the new application open **Properties**: set **Assignment required?** to **Yes** so only the groups you assign can sign in, and **Visible to users?** to **No** — Gatehouse starts every sign-in itself, so a tile in My Apps would not work. Click **Save**.",
		}},
		3: {Intro: "Create two security groups and assign them to the application.", Items: []string{
			"Open **Identity › Groups › All groups** and click **New group**.",
			"Choose **Group type** **Security**, a name such as `Gatehouse Admins`, **Membership type** **Assigned**, and click **Create**. Repeat for `Gatehouse Desktop Users`.",
			"Open each group: its **Object ID** on the **Overview** page is the UUID to enter in this step, next to the group's name.",
			"Back in **Enterprise applications**, open the Gatehouse app, go to **Users and groups**, click **Add user/group**, select both groups and click **Assign**.",
		}},
		4: {Intro: "Exchange SAML settings in both directions.", Items: []string{
			"In the Gatehouse application open **Single sign-on** and choose **SAML**.",
			"Click **Upload metadata file**, select the file from this step's **Download metadata** and click **Add**. Check that **Identifier (Entity ID)** equals the SP Entity ID and **Reply URL (Assertion Consumer Service URL)** equals the ACS URL, then **Save**. (Instead you can click **Edit** in **Basic SAML Configuration** and paste both values.) Leave **Sign on URL**, **Relay State** and **Logout Url** empty.",
			"In **Attributes & Claims** click **Edit**, then **Add a group claim**: choose **Security groups** (or **All groups** if you nest groups), **Source attribute** **Group ID**, and **Save**. Keep the default claims: they already carry the name, object identifier and display name.",
			"In **SAML Certificates**, download **Federation Metadata XML** and upload it with **Upload metadata** in part 3 of this step. Or copy by hand: **Login URL** into IdP SSO URL, **Microsoft Entra Identifier** into IdP Entity ID, and the contents of **Certificate (Base64)** into Public certificate.",
		}, Note: "A SAML token lists at most 150 groups; for people in more groups Entra sends a link instead, and Gatehouse then uses the memberships provisioned over SCIM."},
		5: {Intro: "Let Entra provision users and groups to Gatehouse.", Items: []string{
			"In the Gatehouse application open **Provisioning** and click **Get started** (or **New configuration**).",
			"Set **Provisioning Mode** to **Automatic**. Under **Admin Credentials** paste the SCIM base URL into **Tenant URL** and the bearer token into **Secret Token**. Click **Test Connection**, then **Save**.",
			"Under **Mappings** open **Provision Microsoft Entra ID Users**, click the **externalId** mapping and change **Source attribute** from `mailNickname` to `objectId`. Click **OK**, then **Save**. Without this, two people with similar names can be mixed up.",
			"Under **Settings** set **Scope** to **Sync only assigned users and groups**, switch **Provisioning Status** to **On** and **Save**.",
		}, Note: "Entra provisions in cycles of about 40 minutes. **Provision on demand** pushes one user at once, to test."},
		6: {Intro: "Put people into the two groups.", Items: []string{
			"Open **Identity › Groups › All groups**, pick a group, then **Members › Add members**.",
			"Add the people who administer this business account to the admins group, and everyone who activates Desktop to the Desktop Users group. Admins who also use Desktop belong to both.",
		}},
	},
}

var providerOkta = &Provider{
	ID: ProviderOkta, Name: "Okta", GroupIDIsName: true, HasSCIM: true, UUIDLabel: "group name",
	MetadataFrom: "In Okta, open the Gatehouse app's Sign On tab, open the Metadata URL and save that page as an XML file.",
	Highlights: []string{
		"Okta sends group **names**, so each group's UUID is its name: type the name in both fields of step 3.",
		"The groups attribute is filtered by a regular expression: name your groups so one pattern matches both.",
		"Use **Push Groups** so group memberships reach Gatehouse over SCIM.",
	},
	Guides: map[int]Guide{
		2: {Intro: "Okta's wizard creates the app and its SAML settings together; keep step 4 open for the two values it asks for.", Items: []string{
			"In the **Okta Admin Console** open **Applications › Applications** and click **Create App Integration**.",
			"Choose **SAML 2.0** and click **Next**.",
			"Enter an **App name** (for example `Gatehouse`), tick **Do not display application icon to users** — sign-ins started from the Okta dashboard are not accepted — and click **Next**.",
			"Paste the ACS URL into **Single sign-on URL** and keep **Use this for Recipient URL and Destination URL** ticked. Paste the SP Entity ID into **Audience URI (SP Entity ID)**. Set **Name ID format** to **EmailAddress** and **Application username** to **Email**.",
			"Under **Attribute Statements** add three, each with **Name format** **Unspecified**: `objectidentifier` with value `user.id`, `name` with `user.login`, and `displayname` with `user.displayName`.",
			"Under **Group Attribute Statements** add `groups` (**Unspecified**) with the filter **Matches regex** and a pattern that matches both of your groups, for example `^Gatehouse .*`.",
			"Click **Next**, answer **I'm an Okta customer adding an internal app**, and click **Finish**.",
		}, Note: "In tenants where the wizard has no group attribute section, add the `groups` statement later on the app's **Sign On** tab."},
		3: {Intro: "Create the groups and assign them to the app.", Items: []string{
			"Open **Directory › Groups** and click **Add group**. Create `Gatehouse Admins` and `Gatehouse Desktop Users` (names the regex of step 2 matches).",
			"Open the Gatehouse app, go to **Assignments › Assign › Assign to Groups**, and assign both groups.",
			"Enter each group in this step with its exact Okta name in **both** fields, display name and UUID: Okta sends names, not ids.",
		}},
		4: {Intro: "You entered Gatehouse's values in step 2; now bring Okta's values here.", Items: []string{
			"Open the app's **Sign On** tab. Copy the **Metadata URL**, open it in a browser tab, save the page as an XML file and upload it with **Upload metadata** in part 3 of this step.",
			"Or click **View SAML setup instructions** and copy by hand: **Identity Provider Single Sign-On URL** into IdP SSO URL, **Identity Provider Issuer** into IdP Entity ID, and **X.509 Certificate** into Public certificate.",
		}},
		5: {Intro: "Switch on SCIM provisioning for the app.", Items: []string{
			"On the app's **General** tab click **Edit** in **App Settings**, choose **SCIM** under **Provisioning** and **Save**.",
			"On the new **Provisioning** tab, under **Integration**, click **Edit**: paste the SCIM base URL into **SCIM connector base URL**, enter `userName` as **Unique identifier field for users**, and tick **Push New Users**, **Push Profile Updates** and **Push Groups**.",
			"Set **Authentication Mode** to **HTTP Header**, paste the bearer token into **Bearer**, click **Test Connector Configuration**, close the result and **Save**.",
			"Under **Provisioning › To App** click **Edit**, enable **Create Users**, **Update User Attributes** and **Deactivate Users**, and **Save**.",
			"On the **Push Groups** tab choose **Push Groups › Find groups by name**, push both groups and **Save**.",
		}},
		6: {Intro: "Put people into the two groups.", Items: []string{
			"Open **Directory › Groups**, pick a group and click **Assign people**.",
			"Admins of this business account go into the admins group; everyone who activates Desktop into Desktop Users (admins who use Desktop into both). Pushed groups keep Gatehouse in step.",
		}},
	},
}

var providerPing = &Provider{
	ID: ProviderPing, Name: "Ping Identity (PingOne)", HasSCIM: true, UUIDLabel: "group ID",
	MetadataFrom: "In PingOne, click Download Metadata on the Gatehouse app's Overview (or Configuration) tab.",
	Highlights: []string{
		"Group UUIDs are the PingOne group IDs; the `groups` attribute maps to **Group IDs**.",
		"Attribute names are case-sensitive in PingOne: type them exactly.",
		"SCIM needs a provisioning **connection** and a **rule** with a user filter.",
	},
	Guides: map[int]Guide{
		2: {Intro: "Create a SAML application in the environment your users live in.", Items: []string{
			"Sign in to the **PingOne admin console** and select the environment.",
			"Open **Applications › Applications** and click **+** (Add Application).",
			"Name it (for example `Gatehouse`), choose **SAML Application** and click **Configure**.",
			"Under **SAML Configuration** choose **Import Metadata** and upload the file from step 4's **Download metadata**, or choose **Manually Enter** and paste the ACS URL into **ACS URLs** and the SP Entity ID into **Entity ID**. Click **Save**.",
			"On the app's **Attribute Mappings** tab click **Edit**. Map `saml_subject` to **Email Address**, and add `name` → **Email Address**, `objectidentifier` → **User ID**, `displayname` → the expression `user.name.given + ' ' + user.name.family` (use the expression builder), and `groups` → **Group IDs**. **Save**.",
			"Turn the application on with the toggle in its header.",
		}},
		3: {Intro: "Create the groups and give them access to the app.", Items: []string{
			"Open **Directory › Groups**, click **+**, enter a name and description and **Save**. Create `Gatehouse Admins` and `Gatehouse Desktop Users`.",
			"Open each group and copy its **ID**: that is the UUID to enter in this step.",
			"In **Applications › Applications** open the Gatehouse app, go to the **Access** tab, click the pencil, add both groups and **Save**.",
		}},
		4: {Intro: "You entered Gatehouse's values in step 2; now bring PingOne's values here.", Items: []string{
			"On the app's **Overview** (or **Configuration**) tab click **Download Metadata** and upload the file with **Upload metadata** in part 3 of this step.",
			"Or copy by hand: **Issuer ID** into IdP Entity ID, **Single Signon Service** into IdP SSO URL, and the certificate from **Download Signing Certificate** (X509 PEM) into Public certificate.",
		}},
		5: {Intro: "Create an outbound SCIM connection and a rule that uses it.", Items: []string{
			"Open **Integrations › Provisioning**, click **+** and **New Connection**, choose **SCIM Outbound** and click **Next**; give it a name.",
			"On **Configure Authentication**: **SCIM Base URL** = the SCIM base URL, **Authentication Method** **OAuth 2 Bearer Token**, paste the bearer token, **Auth Type Header** **Bearer**. Click **Test Connection**, then **Next**.",
			"On **Configure Preferences** set **User Filter Expression** to `userName eq \"%s\"` (capital N) and **User Identifier** to `workEmail`; allow users to be created, updated and disabled. **Save** and switch the connection on.",
			"Click **+** › **New Rule**, pick the new connection as target, set a **User Filter** (required; for example membership of the two groups), and under **Attribute Mapping** map `userName` to **Email Address** and add `displayName` → **Formatted** name. Under **Group Provisioning** add both groups. Enable the rule.",
		}},
		6: {Intro: "Put people into the two groups.", Items: []string{
			"Create people under **Directory › Users** (**+**) if they do not exist yet.",
			"Open **Directory › Groups**, pick a group, go to **Users** and **Add** the members. Admins who use Desktop belong to both groups.",
		}},
	},
}

var providerJumpCloud = &Provider{
	ID: ProviderJumpCloud, Name: "JumpCloud", HasSCIM: true, UUIDLabel: "group ID",
	MetadataFrom: "In JumpCloud, click Export Metadata at the top of the Gatehouse app's SSO tab.",
	Highlights: []string{
		"Under **Sign**, choose **Assertion and Response**: both must be signed.",
		"Tick **Declare Redirect Endpoint** so the exported metadata has the endpoint Gatehouse uses.",
		"Group UUIDs are JumpCloud group IDs, sent through a custom `groups` attribute on each group.",
	},
	Guides: map[int]Guide{
		2: {Intro: "Create a custom SAML application with identity management.", Items: []string{
			"In the **JumpCloud Admin Portal** open **SSO Applications** (under **User Authentication**) and click **+ Add New Application**.",
			"Choose **Custom Application** and click **Next**. Tick **Manage Single Sign-On (SSO)** with **Configure SSO with SAML**, and **Export users to this app (Identity Management)**; click **Next**.",
			"Enter a **Display Label** (for example `Gatehouse`), untick **Show this application in User Portal** — sign-ins started from the portal are refused — and click **Save Application**, then **Configure Application**.",
			"On the **SSO** tab set **IdP Entity ID** to a unique name of yours, for example `jumpcloud-gatehouse`. Paste the SP Entity ID into **SP Entity ID** and the ACS URL into **ACS URLs** (**Default URL**), or use **Upload Metadata** with step 4's **Download metadata** file.",
			"Set **SAMLSubject NameID** to **email** and **Signature Algorithm** to **RSA-SHA256**. Under **Sign** choose **Assertion and Response**.",
			"Tick **Declare Redirect Endpoint** under the login URL.",
			"Under **Attributes** add: `name` → **email**, `displayname` → **displayname**, `objectidentifier` → **username** (or **employeeIdentifier** if every user has one; it must never change). Under **Group Attributes** tick **include group attribute** and name it `groups`.",
			"Click **Activate** (or **Save**).",
		}},
		3: {Intro: "Create the groups, give each its id as a custom attribute, and bind them to the app.", Items: []string{
			"Open **User Management › User Groups**, click **+**, name the group (for example `Gatehouse Admins`) and click **Save Group**. Create `Gatehouse Desktop Users` the same way.",
			"Open each group: its ID is the part of the browser's address after `/groups/user/`, for example `67c0bea6ecc3120001efa8da`. Copy it.",
			"On the group's **Details** tab add a custom attribute of type **String** named `groups` whose value is that ID, and **Save Group**.",
			"Open **SSO Applications**, the Gatehouse app, its **User Groups** tab, tick both groups and **Save**.",
			"Enter each group's name and ID in this step.",
		}},
		4: {Intro: "You entered Gatehouse's values in step 2; now bring JumpCloud's values here.", Items: []string{
			"On the app's **SSO** tab check that **Sign** is **Assertion and Response** and **Declare Redirect Endpoint** is ticked.",
			"Click **Export Metadata** at the top of the **SSO** tab and upload the file with **Upload metadata** in part 3 of this step.",
			"If you prefer to copy by hand: the **IdP Entity ID** you chose into IdP Entity ID, the **IDP URL** into IdP SSO URL, and the IdP certificate (**IDP Certificate**) into Public certificate.",
		}},
		5: {Intro: "Switch on SCIM in the app's identity management.", Items: []string{
			"Open the Gatehouse app and its **Identity Management** tab.",
			"Choose **API Type** **SCIM API** and **SCIM Version** **SCIM 2.0**; leave mTLS off.",
			"Paste the SCIM base URL into **Base URL** and the bearer token into **Token Key**. Enter the email of someone in one of the groups as **Test User Email** and click **Test Connection**.",
			"Click **Activate**, then **Save**. JumpCloud provisions the members of the groups bound to the app.",
		}},
		6: {Intro: "Put people into the two groups.", Items: []string{
			"Open **User Management › User Groups**, pick a group, go to its **Users** tab, tick the people and **Save Group**.",
			"Admins of this business account go into the admins group, Desktop users into Desktop Users; admins who use Desktop into both.",
		}},
	},
}

var providerGoogle = &Provider{
	ID: ProviderGoogle, Name: "Google Workspace", GroupIDIsName: true, HasSCIM: false, UUIDLabel: "group name",
	MetadataFrom: "In the Google Admin console, open Apps › Web and mobile apps, open the Gatehouse app and click Download metadata.",
	Highlights: []string{
		"Google Workspace has no SCIM for custom SAML apps: switch SCIM off in step 5. People who leave must then be deactivated by hand.",
		"Google sends group **names**: type each group's name in both fields of step 3.",
		"Create the groups (step 3) before the app, so you can select them in the app's group mapping.",
	},
	Guides: map[int]Guide{
		2: {Intro: "Create a custom SAML app; this also configures SAML (step 4). Create the two groups of step 3 first.", Items: []string{
			"In the **Google Admin console** (admin.google.com) open **Apps › Web and mobile apps**, click **Add app** and choose **Add custom SAML app**.",
			"Enter an **App name** (for example `Gatehouse`) and click **Continue**.",
			"On **Google Identity Provider details** click **Download Metadata** (you upload it in step 4), then **Continue**.",
			"On **Service provider details** paste the ACS URL into **ACS URL** and the SP Entity ID into **Entity ID**. Leave **Start URL** empty. Set **Name ID format** to **EMAIL** and **Name ID** to **Basic Information › Primary email**. Click **Continue**.",
			"On **Attribute mapping** click **Add mapping** for: **Primary email** → `name`, **First name** → `displayName`, and **Employee ID** → `objectidentifier` (every user needs an employee ID; otherwise map **Primary email**). Under **Group membership** select the two groups and set **App attribute** to `groups`. Click **Finish**.",
			"Open the app's **User access** panel, switch it **ON for everyone** (or for the organizational units that use Desktop) and **Save**.",
		}},
		3: {Intro: "Create two security groups.", Items: []string{
			"Open **Directory › Groups** and click **Create group**. Give it a name such as `Gatehouse Admins` and a group email, apply the **Security** label, and click **Create group**. Repeat for `Gatehouse Desktop Users`.",
			"Enter each group in this step with its exact Google name in **both** fields, display name and UUID: Google sends names, not ids.",
		}},
		4: {Intro: "You entered Gatehouse's values in step 2; now bring Google's values here.", Items: []string{
			"Upload the metadata file downloaded in step 2 with **Upload metadata** in part 3 of this step. To get it again: **Apps › Web and mobile apps**, open the app and click **Download metadata**.",
			"Or copy by hand from **Google Identity Provider details**: **SSO URL** into IdP SSO URL, **Entity ID** into IdP Entity ID, **Certificate** into Public certificate.",
		}},
		5: {Intro: "Google Workspace does not provision custom SAML apps over SCIM.", Items: []string{
			"Untick **Use SCIM provisioning** at the top of this step and click **Save**: the step turns green.",
			"People appear in Gatehouse at their first SSO sign-in. When someone leaves, remove them from the Google groups and deactivate them on the Users page here — their seat is then returned.",
		}},
		6: {Intro: "Put people into the two groups.", Items: []string{
			"Open **Directory › Groups**, point at a group and click **Add members**.",
			"Admins of this business account go into the admins group, Desktop users into Desktop Users; admins who use Desktop into both.",
		}},
	},
}

var providerOther = &Provider{
	ID: ProviderOther, Name: "Other SAML 2.0 / SCIM 2.0 IdP", HasSCIM: true, UUIDLabel: "group identifier",
	MetadataFrom: "Export the SAML metadata of the Gatehouse application from your IdP's admin console.",
	Highlights: []string{
		"These steps follow the Microsoft Entra ID setup; use your IdP's names for the same settings.",
		"The group UUID is whatever your IdP puts in the `groups` attribute and in SCIM (an object id, or the group name).",
		"Sign the assertion (or the whole response) with RSA-SHA256; only SP-initiated sign-in is supported.",
	},
	Guides: map[int]Guide{
		2: {Intro: "Create a custom SAML 2.0 application for Gatehouse in your IdP.", Items: []string{
			"In your IdP's admin console create a new custom (non-gallery) **SAML 2.0** application, for example named `Gatehouse`.",
			"Require assignment, so only the groups you assign can sign in.",
			"Hide the application from end-user portals: Gatehouse starts every sign-in itself and refuses IdP-initiated ones.",
		}},
		3: {Intro: "Create two groups and assign them to the application.", Items: []string{
			"Create a group for the admins of this business account and one for Desktop users.",
			"Find the identifier your IdP sends for each group in the SAML `groups` attribute and as the SCIM group's externalId (an object id; some IdPs send the name) and enter it in this step as the UUID, with the group's display name.",
			"Assign both groups to the Gatehouse application.",
		}},
		4: {Intro: "Exchange SAML settings in both directions.", Items: []string{
			"Give your IdP Gatehouse's SP metadata (**Download metadata** in part 1 of this step), or enter the SP Entity ID as the audience / entity ID and the ACS URL as the reply / ACS URL (HTTP-POST binding).",
			"Send the NameID as the email address (or a persistent id), and the attributes in part 2 of this step. Attribute names are matched case-insensitively; Entra-style claim URIs work too.",
			"Sign the assertion, the response, or both, with RSA-SHA256.",
			"Export the IdP's metadata and upload it with **Upload metadata** in part 3 of this step, or copy its entity ID, its SSO URL (HTTP-Redirect or HTTP-POST binding) and its signing certificate.",
		}},
		5: {Intro: "Configure your IdP's SCIM 2.0 client.", Items: []string{
			"Set the SCIM base URL as the tenant / base URL, and authenticate with the HTTP header `Authorization: Bearer <token>` using the bearer token generated in this step.",
			"Use `userName` (the login or email) as the matching attribute, and send the same stable id as `externalId` that the SAML `objectidentifier` carries.",
			"Provision the members of both groups, and push the groups themselves.",
		}, Note: "If your IdP has no SCIM, switch SCIM off at the top of this step and manage people by hand."},
		6: {Intro: "Put people into the two groups.", Items: []string{
			"Add the admins of this business account to the admins group, and everyone who activates Desktop to the Desktop Users group (admins who use Desktop to both).",
		}},
	},
}
