package scim

import (
	"net/http"
	"strings"
)

// Discovery endpoints (RFC 7644 §4). They need the bearer token like every
// other endpoint: the token is how we know whose SCIM server this is.

func (h *handler) serviceProviderConfig(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []any{URNSPConfig},
		"documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": h.svc.maxResults()},
		// Passwords are accepted and dropped: Gatehouse users sign in via SSO.
		"changePassword": map[string]any{"supported": false},
		"sort":           map[string]any{"supported": true},
		"etag":           map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "OAuth Bearer Token",
			"description": "The account's SCIM bearer token from IdP Integration, step 5: Authorization: Bearer <token>",
			"specUri":     "https://datatracker.ietf.org/doc/html/rfc6750",
			"primary":     true,
		}},
		"meta": map[string]any{
			"resourceType": "ServiceProviderConfig",
			"location":     rc.base + "/ServiceProviderConfig",
		},
	})
	return nil
}

func resourceTypeDoc(rt *resourceType, base string) map[string]any {
	exts := make([]any, 0, len(rt.Extensions))
	for _, e := range rt.Extensions {
		exts = append(exts, map[string]any{"schema": e.ID, "required": false})
	}
	doc := map[string]any{
		"schemas":     []any{URNResourceType},
		"id":          rt.Name,
		"name":        rt.Name,
		"endpoint":    rt.Endpoint,
		"description": rt.Description,
		"schema":      rt.Core.ID,
		"meta": map[string]any{
			"resourceType": "ResourceType",
			"location":     base + "/ResourceTypes/" + rt.Name,
		},
	}
	if len(exts) > 0 {
		doc["schemaExtensions"] = exts
	}
	return doc
}

func (h *handler) resourceTypes(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	list := []any{resourceTypeDoc(userType, rc.base), resourceTypeDoc(groupType, rc.base)}
	writeJSON(w, http.StatusOK, listResponse(len(list), 1, list))
	return nil
}

func (h *handler) resourceTypeByID(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	for _, rt := range []*resourceType{userType, groupType} {
		if strings.EqualFold(rt.Name, r.PathValue("id")) {
			writeJSON(w, http.StatusOK, resourceTypeDoc(rt, rc.base))
			return nil
		}
	}
	return errNotFound
}

func attrDoc(a *attr) map[string]any {
	d := map[string]any{
		"name":        a.Name,
		"type":        string(a.Type),
		"multiValued": a.Multi,
		"description": a.Description,
		"required":    a.Required,
		"mutability":  a.Mutability,
		"returned":    a.Returned,
	}
	if a.Type != tComplex && a.Type != tBoolean {
		d["caseExact"] = a.CaseExact
		d["uniqueness"] = a.Uniqueness
	}
	if len(a.CanonicalValues) > 0 {
		d["canonicalValues"] = stringsToAny(a.CanonicalValues)
	}
	if len(a.ReferenceTypes) > 0 {
		d["referenceTypes"] = stringsToAny(a.ReferenceTypes)
	}
	if len(a.Sub) > 0 {
		subs := make([]any, 0, len(a.Sub))
		for _, s := range a.Sub {
			subs = append(subs, attrDoc(s))
		}
		d["subAttributes"] = subs
	}
	return d
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func schemaDoc(s *schema, base string) map[string]any {
	attrs := make([]any, 0, len(s.Attrs))
	for _, a := range s.Attrs {
		if a.common {
			continue // id, externalId and meta are common attributes, not schema attributes
		}
		attrs = append(attrs, attrDoc(a))
	}
	return map[string]any{
		"schemas":     []any{URNSchema},
		"id":          s.ID,
		"name":        s.Name,
		"description": s.Description,
		"attributes":  attrs,
		"meta": map[string]any{
			"resourceType": "Schema",
			"location":     base + "/Schemas/" + s.ID,
		},
	}
}

func (h *handler) schemas(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	list := make([]any, 0, len(allSchemas))
	for _, s := range allSchemas {
		list = append(list, schemaDoc(s, rc.base))
	}
	writeJSON(w, http.StatusOK, listResponse(len(list), 1, list))
	return nil
}

func (h *handler) schemaByID(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	for _, s := range allSchemas {
		if strings.EqualFold(s.ID, r.PathValue("id")) {
			writeJSON(w, http.StatusOK, schemaDoc(s, rc.base))
			return nil
		}
	}
	return errNotFound
}
