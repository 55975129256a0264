package scim

import (
	"fmt"
	"strings"
)

// Schema URNs.
const (
	URNUser         = "urn:ietf:params:scim:schemas:core:2.0:User"
	URNGroup        = "urn:ietf:params:scim:schemas:core:2.0:Group"
	URNEnterprise   = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	URNListResponse = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	URNPatchOp      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	URNSearch       = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	URNError        = "urn:ietf:params:scim:api:messages:2.0:Error"
	URNSPConfig     = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	URNResourceType = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	URNSchema       = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

type attrType string

const (
	tString    attrType = "string"
	tBoolean   attrType = "boolean"
	tDecimal   attrType = "decimal"
	tInteger   attrType = "integer"
	tDateTime  attrType = "dateTime"
	tReference attrType = "reference"
	tBinary    attrType = "binary"
	tComplex   attrType = "complex"
)

const (
	mutReadOnly  = "readOnly"
	mutReadWrite = "readWrite"
	mutImmutable = "immutable"
	mutWriteOnly = "writeOnly"

	retAlways  = "always"
	retNever   = "never"
	retDefault = "default"
	retRequest = "request"
)

// attr is one attribute definition of RFC 7643 §7. The same definitions drive
// input validation, PATCH, filters, attribute projection and /Schemas.
type attr struct {
	Name            string
	Type            attrType
	Multi           bool
	Description     string
	Required        bool
	CaseExact       bool
	Mutability      string
	Returned        string
	Uniqueness      string
	CanonicalValues []string
	ReferenceTypes  []string
	Sub             []*attr
	// common marks id/externalId/meta: part of every resource, not listed in
	// the schema document (RFC 7643 §3.1).
	common bool
}

func (a *attr) sub(name string) *attr { return findAttr(a.Sub, name) }

func findAttr(list []*attr, name string) *attr {
	for _, a := range list {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// schema is a core schema or an extension.
type schema struct {
	ID          string
	Name        string
	Description string
	Attrs       []*attr
}

func (s *schema) attr(name string) *attr { return findAttr(s.Attrs, name) }

// resourceType ties an endpoint to its core schema and extensions.
type resourceType struct {
	Name        string
	Endpoint    string
	Description string
	Core        *schema
	Extensions  []*schema
}

// extension returns the extension schema whose URN is urn (case-insensitive).
func (rt *resourceType) extension(urn string) *schema {
	for _, s := range rt.Extensions {
		if strings.EqualFold(s.ID, urn) {
			return s
		}
	}
	return nil
}

func str(name, desc string, opts ...func(*attr)) *attr {
	a := &attr{Name: name, Type: tString, Description: desc, Mutability: mutReadWrite, Returned: retDefault, Uniqueness: "none"}
	for _, o := range opts {
		o(a)
	}
	return a
}

func typed(t attrType) func(*attr) { return func(a *attr) { a.Type = t } }
func required(a *attr)             { a.Required = true }
func caseExact(a *attr)            { a.CaseExact = true }
func multi(a *attr)                { a.Multi = true }
func readOnly(a *attr)             { a.Mutability = mutReadOnly }
func immutable(a *attr)            { a.Mutability = mutImmutable }
func writeOnly(a *attr)            { a.Mutability = mutWriteOnly; a.Returned = retNever }
func always(a *attr)               { a.Returned = retAlways }
func serverUnique(a *attr)         { a.Uniqueness = "server" }
func canonical(v ...string) func(*attr) {
	return func(a *attr) { a.CanonicalValues = v }
}
func refs(v ...string) func(*attr) {
	return func(a *attr) { a.Type = tReference; a.ReferenceTypes = v; a.CaseExact = true }
}
func subs(s ...*attr) func(*attr) {
	return func(a *attr) { a.Type = tComplex; a.Sub = s }
}

// multiValued builds the usual type/primary/display/value complex of RFC 7643 §2.4.
func multiValued(name, desc string, valueOpts []func(*attr), types []string, extra ...*attr) *attr {
	sub := []*attr{
		str("value", "The value of the attribute.", valueOpts...),
		str("display", "A human-readable name, primarily used for display purposes."),
		str("type", "A label indicating the attribute's function.", canonical(types...)),
		str("primary", "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.", typed(tBoolean)),
	}
	sub = append(sub, extra...)
	return str(name, desc, multi, subs(sub...))
}

func commonAttrs(resourceName string) []*attr {
	id := str("id", "A unique identifier for a SCIM resource as defined by the service provider.", caseExact, readOnly, always, serverUnique)
	ext := str("externalId", "A String that is an identifier for the resource as defined by the provisioning client.", caseExact)
	meta := str("meta", "A complex attribute containing resource metadata.", readOnly, subs(
		str("resourceType", "The name of the resource type of the resource.", readOnly, caseExact),
		str("created", "The DateTime that the resource was added to the service provider.", readOnly, typed(tDateTime)),
		str("lastModified", "The most recent DateTime that the details of this resource were updated at the service provider.", readOnly, typed(tDateTime)),
		str("location", "The URI of the resource being returned.", readOnly, refs("uri")),
		str("version", "The version of the resource being returned.", readOnly, caseExact),
	))
	for _, a := range []*attr{id, ext, meta} {
		a.common = true
	}
	for _, s := range meta.Sub {
		s.common = true
	}
	_ = resourceName
	return []*attr{id, ext, meta}
}

var (
	userSchema = &schema{
		ID:          URNUser,
		Name:        "User",
		Description: "User Account",
		Attrs: append(commonAttrs("User"),
			str("userName", "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.", required, serverUnique),
			str("name", "The components of the user's real name.", subs(
				str("formatted", "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."),
				str("familyName", "The family name of the User, or last name in most Western languages."),
				str("givenName", "The given name of the User, or first name in most Western languages."),
				str("middleName", "The middle name(s) of the User."),
				str("honorificPrefix", "The honorific prefix(es) of the User, or title in most Western languages."),
				str("honorificSuffix", "The honorific suffix(es) of the User, or suffix in most Western languages."),
			)),
			str("displayName", "The name of the User, suitable for display to end-users."),
			str("nickName", "The casual way to address the user in real life."),
			str("profileUrl", "A fully qualified URL pointing to a page representing the User's online profile.", refs("external")),
			str("title", "The user's title, such as \"Vice President\"."),
			str("userType", "Used to identify the relationship between the organization and the user."),
			str("preferredLanguage", "Indicates the User's preferred written or spoken language."),
			str("locale", "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations."),
			str("timezone", "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'."),
			str("active", "A Boolean value indicating the User's administrative status.", typed(tBoolean)),
			str("password", "The User's cleartext password. Accepted, never stored or returned (Gatehouse users sign in with SSO).", writeOnly),
			multiValued("emails", "Email addresses for the user.", nil, []string{"work", "home", "other"}),
			multiValued("phoneNumbers", "Phone numbers for the User.", nil, []string{"work", "home", "mobile", "fax", "pager", "other"}),
			multiValued("ims", "Instant messaging addresses for the User.", nil, []string{"aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"}),
			multiValued("photos", "URLs of photos of the User.", []func(*attr){refs("external")}, []string{"photo", "thumbnail"}),
			str("addresses", "A physical mailing address for this User.", multi, subs(
				str("formatted", "The full mailing address, formatted for display or use with a mailing label."),
				str("streetAddress", "The full street address component, which may include house number, street name, P.O. box, and multi-line extended street address information."),
				str("locality", "The city or locality component."),
				str("region", "The state or region component."),
				str("postalCode", "The zip code or postal code component."),
				str("country", "The country name component."),
				str("type", "A label indicating the attribute's function.", canonical("work", "home", "other")),
				str("primary", "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.", typed(tBoolean)),
			)),
			str("groups", "A list of groups to which the user belongs, either through direct membership, through nested groups, or dynamically calculated.", multi, readOnly, subs(
				str("value", "The identifier of the User's group.", readOnly),
				str("$ref", "The URI of the corresponding 'Group' resource to which the user belongs.", readOnly, refs("User", "Group")),
				str("display", "A human-readable name, primarily used for display purposes.", readOnly),
				str("type", "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.", readOnly, canonical("direct", "indirect")),
			)),
			multiValued("entitlements", "A list of entitlements for the User that represent a thing the User has.", nil, nil),
			multiValued("roles", "A list of roles for the User that collectively represent who the User is, e.g., 'Student', 'Faculty'.", nil, nil),
			multiValued("x509Certificates", "A list of certificates issued to the User.", []func(*attr){typed(tBinary)}, nil),
		),
	}

	enterpriseSchema = &schema{
		ID:          URNEnterprise,
		Name:        "EnterpriseUser",
		Description: "Enterprise User",
		Attrs: []*attr{
			str("employeeNumber", "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization."),
			str("costCenter", "Identifies the name of a cost center."),
			str("organization", "Identifies the name of an organization."),
			str("division", "Identifies the name of a division."),
			str("department", "Identifies the name of a department."),
			str("manager", "The User's manager.", subs(
				str("value", "The id of the SCIM resource representing the User's manager.", caseExact),
				str("$ref", "The URI of the SCIM resource representing the User's manager.", refs("User")),
				str("displayName", "The displayName of the User's manager.", readOnly),
			)),
		},
	}

	groupSchema = &schema{
		ID:          URNGroup,
		Name:        "Group",
		Description: "Group",
		Attrs: append(commonAttrs("Group"),
			str("displayName", "A human-readable name for the Group.", required),
			str("members", "A list of members of the Group.", multi, subs(
				str("value", "Identifier of the member of this Group.", immutable, caseExact),
				str("$ref", "The URI corresponding to a SCIM resource that is a member of this Group.", immutable, refs("User", "Group")),
				str("type", "A label indicating the type of resource, e.g., 'User' or 'Group'.", immutable, canonical("User", "Group")),
				str("display", "A human-readable name, primarily used for display purposes.", readOnly),
			)),
		),
	}

	userType = &resourceType{
		Name:        "User",
		Endpoint:    "/Users",
		Description: "User Account",
		Core:        userSchema,
		Extensions:  []*schema{enterpriseSchema},
	}

	groupType = &resourceType{
		Name:        "Group",
		Endpoint:    "/Groups",
		Description: "Group",
		Core:        groupSchema,
	}

	allSchemas = []*schema{userSchema, enterpriseSchema, groupSchema}
)

// extRoots gives each extension a synthetic complex attribute named by its
// URN, so that extension values are addressed like any complex attribute:
// doc[URN][attr].
var extRoots = map[*schema]*attr{}

func init() {
	for _, rt := range []*resourceType{userType, groupType} {
		for _, ext := range rt.Extensions {
			extRoots[ext] = &attr{Name: ext.ID, Type: tComplex, Sub: ext.Attrs, Mutability: mutReadWrite, Returned: retDefault}
		}
	}
}

// resolveSteps turns an attribute path (optional schema URN, name, optional
// sub-attribute) into the chain of attribute definitions from the top of the
// resource. Names are matched case-insensitively.
func (rt *resourceType) resolveSteps(uri, name, sub string) ([]*attr, error) {
	var steps []*attr
	switch {
	case uri == "":
		if a := rt.Core.attr(name); a != nil {
			steps = []*attr{a}
		} else if ext := rt.extension(name); ext != nil {
			steps = []*attr{extRoots[ext]}
		} else {
			// Lenient: an extension attribute written without its URN.
			for _, ext := range rt.Extensions {
				if a := ext.attr(name); a != nil {
					steps = []*attr{extRoots[ext], a}
					break
				}
			}
		}
	case strings.EqualFold(uri, rt.Core.ID):
		if a := rt.Core.attr(name); a != nil {
			steps = []*attr{a}
		}
	default:
		if ext := rt.extension(uri); ext != nil {
			if a := ext.attr(name); a != nil {
				steps = []*attr{extRoots[ext], a}
			}
		} else if ext := rt.extension(uri + ":" + name); ext != nil {
			// The whole extension: "urn:…:enterprise:2.0:User".
			steps = []*attr{extRoots[ext]}
			if sub != "" {
				a := ext.attr(sub)
				if a == nil {
					return nil, fmt.Errorf("unknown attribute %q in %s", sub, ext.ID)
				}
				return append(steps, a), nil
			}
			return steps, nil
		}
	}
	if steps == nil {
		full := name
		if uri != "" {
			full = uri + ":" + name
		}
		return nil, fmt.Errorf("unknown attribute %q", full)
	}
	if sub != "" {
		last := steps[len(steps)-1]
		if last.Type != tComplex {
			return nil, fmt.Errorf("attribute %q has no sub-attributes", last.Name)
		}
		s := last.sub(sub)
		if s == nil {
			return nil, fmt.Errorf("unknown sub-attribute %q of %q", sub, last.Name)
		}
		steps = append(steps, s)
	}
	return steps, nil
}
