package account

// Country is an ISO 3166-1 alpha-2 code and its English name.
type Country struct {
	Code string
	Name string
}

var countryByCode = func() map[string]string {
	m := make(map[string]string, len(Countries))
	for _, c := range Countries {
		m[c.Code] = c.Name
	}
	return m
}()

// CountryName returns the name of an ISO code, or "" when unknown.
func CountryName(code string) string { return countryByCode[code] }
