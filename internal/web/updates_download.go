package web

import (
	"context"
	"sort"
	"strconv"
	"strings"
)

// InstallerFunc returns the URL of the Desktop installer a /download
// visitor gets: the current release of channel ("" = decide from the
// invitation code's organisation, else business) in the first of locales
// it exists in; "" when no release is published (then --download-url).
type InstallerFunc func(ctx context.Context, channel, code string, locales []string) (string, error)

// acceptLocales turns an Accept-Language header into locales in order of
// preference: de-CH;q=0.9 → de_CH, fr → fr.
func acceptLocales(h string) []string {
	type pref struct {
		tag string
		q   float64
		i   int
	}
	var ps []pref
	for i, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.TrimSpace(tag)
		if tag == "" || tag == "*" || len(tag) > 16 {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if q <= 0 {
			continue
		}
		lang, region, _ := strings.Cut(tag, "-")
		loc := strings.ToLower(lang)
		if len(region) == 2 {
			loc += "_" + strings.ToUpper(region)
		}
		ps = append(ps, pref{loc, q, i})
		if len(ps) == 10 {
			break
		}
	}
	sort.SliceStable(ps, func(a, b int) bool { return ps[a].q > ps[b].q })
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.tag
	}
	return out
}
