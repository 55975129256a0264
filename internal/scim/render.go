package scim

// renderUser builds the response representation of a user. groups is nil
// when the caller did not load them (projection without "groups").
func renderUser(rec *record, groups []memberRef, base string) map[string]any {
	out := make(map[string]any, len(rec.data)+4)
	for k, v := range rec.data {
		out[k] = v
	}
	schemas := []any{URNUser}
	if _, ok := rec.data[URNEnterprise]; ok {
		schemas = append(schemas, URNEnterprise)
	}
	out["schemas"] = schemas
	out["id"] = rec.id
	if len(groups) > 0 {
		list := make([]any, len(groups))
		for i, g := range groups {
			list[i] = map[string]any{"value": g.id, "$ref": base + "/Groups/" + g.id, "display": g.display, "type": "direct"}
		}
		out["groups"] = list
	}
	out["meta"] = meta("User", rec, base+"/Users/"+rec.id)
	return out
}

// renderGroup builds the response representation of a group.
func renderGroup(rec *record, members []memberRef, base string) map[string]any {
	out := make(map[string]any, len(rec.data)+4)
	for k, v := range rec.data {
		out[k] = v
	}
	out["schemas"] = []any{URNGroup}
	out["id"] = rec.id
	if len(members) > 0 {
		list := make([]any, len(members))
		for i, m := range members {
			list[i] = map[string]any{"value": m.id, "$ref": base + "/Users/" + m.id, "display": m.display, "type": "User"}
		}
		out["members"] = list
	}
	out["meta"] = meta("Group", rec, base+"/Groups/"+rec.id)
	return out
}

func meta(resourceType string, rec *record, location string) map[string]any {
	return map[string]any{
		"resourceType": resourceType,
		"created":      dateTime(rec.created),
		"lastModified": dateTime(rec.modified),
		"location":     location,
		"version":      etag(rec.version),
	}
}

func listResponse(total, startIndex int, resources []any) map[string]any {
	if resources == nil {
		resources = []any{}
	}
	return map[string]any{
		"schemas":      []any{URNListResponse},
		"totalResults": total,
		"itemsPerPage": len(resources),
		"startIndex":   startIndex,
		"Resources":    resources,
	}
}
