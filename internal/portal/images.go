package portal

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// Arch is a golden image's download for one CPU architecture.
type Arch struct {
	Enabled bool
	URL     string
	SHA256  string
}

// PolicyRef names a policy on cards and in messages.
type PolicyRef struct{ ID, Name string }

// Image is a golden image.
type Image struct {
	ID           string
	AccountID    string
	Name         string
	Description  string
	AppleSilicon Arch
	Intel        Arch
	CreatedBy    string
	CreatedAt    store.Time
	UpdatedAt    store.Time
	// Filled by Images: the policies that provision it and how many
	// inventory VMs came from it.
	Policies []PolicyRef
	VMs      int
}

// Arch returns the image's download for cpu.
func (i *Image) Arch(cpu string) Arch {
	switch cpu {
	case CPUAppleSilicon:
		return i.AppleSilicon
	case CPUIntel:
		return i.Intel
	}
	return Arch{}
}

// ImageInput is the golden image form.
type ImageInput struct {
	Name, Description string
	AppleSilicon      Arch
	Intel             Arch
}

const imageColumns = `id, account_id, name, description, arm_enabled, arm_url, arm_sha256, intel_enabled, intel_url, intel_sha256, created_by, created_at, updated_at`

func scanImage(row interface{ Scan(...any) error }) (*Image, error) {
	var i Image
	err := row.Scan(&i.ID, &i.AccountID, &i.Name, &i.Description, &i.AppleSilicon.Enabled, &i.AppleSilicon.URL, &i.AppleSilicon.SHA256,
		&i.Intel.Enabled, &i.Intel.URL, &i.Intel.SHA256, &i.CreatedBy, &i.CreatedAt, &i.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &i, nil
}

// checkName validates a name shown to people.
func checkName(field, v string, max int) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", fieldErr(field, "Enter a name.")
	case utf8.RuneCountInString(v) > max:
		return "", fieldErr(field, "The name is too long (at most %d characters).", max)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", fieldErr(field, "The name contains control characters.")
	}
	return v, nil
}

func checkDescription(field, v string) (string, error) {
	v = strings.TrimSpace(v)
	if utf8.RuneCountInString(v) > 1000 {
		return "", fieldErr(field, "The description is too long (at most 1,000 characters).")
	}
	if strings.ContainsFunc(v, func(r rune) bool { return (r < 0x20 && r != '\n' && r != '\r' && r != '\t') || r == 0x7f }) {
		return "", fieldErr(field, "The description contains control characters.")
	}
	return v, nil
}

// CheckDownloadURL validates a direct HTTPS download URL.
func CheckDownloadURL(field, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", fieldErr(field, "Enter the HTTPS address of the file.")
	}
	if len(raw) > 2048 {
		return "", fieldErr(field, "The address is too long (at most 2,048 characters).")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return "", fieldErr(field, "Enter a full address starting with https://.")
	}
	if u.Scheme != "https" {
		return "", fieldErr(field, "The address must start with https:// (Desktop only downloads images over HTTPS).")
	}
	if u.User != nil {
		return "", fieldErr(field, "The address must not contain a user name or password: the file must download without authentication.")
	}
	if strings.ContainsAny(raw, " \t\r\n\\") {
		return "", fieldErr(field, "The address contains spaces or backslashes.")
	}
	return u.String(), nil
}

// CheckSHA256 validates a SHA-256 written as 64 hexadecimal characters.
func CheckSHA256(field, v string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return "", fieldErr(field, "Enter the file's SHA-256.")
	}
	if len(v) != 64 || strings.Trim(v, "0123456789abcdef") != "" {
		return "", fieldErr(field, "A SHA-256 is 64 hexadecimal characters (0–9, a–f); this has %d characters.", utf8.RuneCountInString(v))
	}
	return v, nil
}

func checkArch(prefix string, a Arch) (Arch, error) {
	if !a.Enabled {
		// Kept as typed (trimmed) so switching it back on restores it.
		return Arch{URL: strings.TrimSpace(a.URL), SHA256: strings.ToLower(strings.TrimSpace(a.SHA256))}, nil
	}
	u, err := CheckDownloadURL(prefix+"_url", a.URL)
	if err != nil {
		return a, err
	}
	h, err := CheckSHA256(prefix+"_sha256", a.SHA256)
	if err != nil {
		return a, err
	}
	return Arch{Enabled: true, URL: u, SHA256: h}, nil
}

func (in ImageInput) validate() (ImageInput, error) {
	var err error
	if in.Name, err = checkName("name", in.Name, 100); err != nil {
		return in, err
	}
	if in.Description, err = checkDescription("description", in.Description); err != nil {
		return in, err
	}
	if in.AppleSilicon, err = checkArch("arm", in.AppleSilicon); err != nil {
		return in, err
	}
	if in.Intel, err = checkArch("intel", in.Intel); err != nil {
		return in, err
	}
	if !in.AppleSilicon.Enabled && !in.Intel.Enabled {
		return in, fieldErr("arch", "Enable at least one architecture (Apple silicon or Intel).")
	}
	return in, nil
}

// imageVisible: license admins see the images their policies use, the
// images they created, and unused images (so that they can pick one).
func (s *Service) imageVisible(ctx context.Context, q store.Querier, sc scope, c Caller, img *Image) (bool, error) {
	if sc.all || img.CreatedBy == c.PersonID {
		return true, nil
	}
	pols, err := s.policiesUsing(ctx, q, img.AccountID, img.ID)
	if err != nil {
		return false, err
	}
	if len(pols) == 0 {
		return true, nil
	}
	for _, p := range pols {
		ok, err := s.policyInScope(ctx, q, sc, c, p.ID)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}

// imageEditable: license admins change only images used by no policy
// outside their keys.
func (s *Service) imageEditable(ctx context.Context, q store.Querier, sc scope, c Caller, img *Image) (bool, error) {
	if sc.all {
		return true, nil
	}
	pols, err := s.policiesUsing(ctx, q, img.AccountID, img.ID)
	if err != nil {
		return false, err
	}
	for _, p := range pols {
		ok, err := s.policyInScope(ctx, q, sc, c, p.ID)
		if err != nil || !ok {
			return false, err
		}
	}
	return len(pols) > 0 || img.CreatedBy == c.PersonID, nil
}

func (s *Service) policiesUsing(ctx context.Context, q store.Querier, accountID, imageID string) ([]PolicyRef, error) {
	rows, err := q.Query(ctx, `SELECT id, name FROM portal_policies WHERE account_id = ? AND image_id = ? ORDER BY name, id`, accountID, imageID)
	if err != nil {
		return nil, fmt.Errorf("policies using image: %w", err)
	}
	defer rows.Close()
	var out []PolicyRef
	for rows.Next() {
		var p PolicyRef
		if err := rows.Scan(&p.ID, &p.Name); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

func getImage(ctx context.Context, q store.Querier, accountID, id string) (*Image, error) {
	if !ids.Valid(id) {
		return nil, ErrNotFound
	}
	img, err := scanImage(q.QueryRow(ctx, `SELECT `+imageColumns+` FROM portal_images WHERE id = ? AND account_id = ?`, id, accountID))
	if err != nil {
		return nil, store.NotFound(err)
	}
	return img, nil
}

// Images lists the golden images the caller may see, with the policies
// that use each and the number of VMs provisioned from it.
func (s *Service) Images(ctx context.Context, c Caller) ([]Image, error) {
	sc, err := s.scopeOf(ctx, s.DB, c)
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.Query(ctx, `SELECT `+imageColumns+` FROM portal_images WHERE account_id = ? ORDER BY name, id`, c.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var all []Image
	for rows.Next() {
		img, err := scanImage(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list images: %w", err)
		}
		all = append(all, *img)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Image
	var idsOut []string
	for i := range all {
		ok, err := s.imageVisible(ctx, s.DB, sc, c, &all[i])
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if all[i].Policies, err = s.policiesUsing(ctx, s.DB, c.AccountID, all[i].ID); err != nil {
			return nil, err
		}
		out = append(out, all[i])
		idsOut = append(idsOut, all[i].ID)
	}
	counts, err := s.vmCounts(ctx, s.DB, c.AccountID, idsOut)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].VMs = counts[out[i].ID]
	}
	return out, nil
}

// Image returns one golden image the caller may see.
func (s *Service) Image(ctx context.Context, c Caller, id string) (*Image, error) {
	sc, err := s.scopeOf(ctx, s.DB, c)
	if err != nil {
		return nil, err
	}
	img, err := getImage(ctx, s.DB, c.AccountID, id)
	if err != nil {
		return nil, err
	}
	if ok, err := s.imageVisible(ctx, s.DB, sc, c, img); err != nil || !ok {
		if err == nil {
			err = ErrNotFound
		}
		return nil, err
	}
	if img.Policies, err = s.policiesUsing(ctx, s.DB, c.AccountID, id); err != nil {
		return nil, err
	}
	counts, err := s.vmCounts(ctx, s.DB, c.AccountID, []string{id})
	if err != nil {
		return nil, err
	}
	img.VMs = counts[id]
	return img, nil
}

func imageAudit(img ImageInput) map[string]any {
	arch := func(a Arch) map[string]any {
		return map[string]any{"enabled": a.Enabled, "url": a.URL, "sha256": a.SHA256}
	}
	return map[string]any{"name": img.Name, "description": img.Description, "apple_silicon": arch(img.AppleSilicon), "intel": arch(img.Intel)}
}

func (img *Image) input() ImageInput {
	return ImageInput{Name: img.Name, Description: img.Description, AppleSilicon: img.AppleSilicon, Intel: img.Intel}
}

// SaveImage creates (id == "") or changes a golden image. Changing the URL
// does not touch VMs already provisioned from it: they keep counting as
// provisioned from this image.
func (s *Service) SaveImage(ctx context.Context, c Caller, id string, in ImageInput, actor audit.Actor) (*Image, error) {
	in, err := in.validate()
	if err != nil {
		return nil, err
	}
	now := store.At(s.now())
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		sc, err := s.scopeOf(ctx, tx, c)
		if err != nil {
			return err
		}
		if id == "" {
			id = ids.New()
			if _, err := tx.Exec(ctx, `INSERT INTO portal_images (`+imageColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`,
				id, c.AccountID, in.Name, in.Description, in.AppleSilicon.Enabled, in.AppleSilicon.URL, in.AppleSilicon.SHA256,
				in.Intel.Enabled, in.Intel.URL, in.Intel.SHA256, c.PersonID, now, now); err != nil {
				return fmt.Errorf("create image: %w", err)
			}
			return audit.Record(ctx, tx, actor, audit.Entry{AccountID: c.AccountID, Action: "portal.image_created",
				TargetType: "golden_image", TargetID: id, TargetLabel: in.Name, After: imageAudit(in)})
		}
		old, err := getImage(ctx, tx, c.AccountID, id)
		if err != nil {
			return err
		}
		if ok, err := s.imageEditable(ctx, tx, sc, c, old); err != nil || !ok {
			if err == nil {
				err = ErrForbidden
			}
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE portal_images SET name = ?, description = ?, arm_enabled = ?, arm_url = ?, arm_sha256 = ?,
			intel_enabled = ?, intel_url = ?, intel_sha256 = ?, updated_at = ? WHERE id = ? AND account_id = ?`,
			in.Name, in.Description, in.AppleSilicon.Enabled, in.AppleSilicon.URL, in.AppleSilicon.SHA256,
			in.Intel.Enabled, in.Intel.URL, in.Intel.SHA256, now, id, c.AccountID); err != nil {
			return fmt.Errorf("update image: %w", err)
		}
		if err := s.changed(ctx, tx, c.AccountID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: c.AccountID, Action: "portal.image_updated",
			TargetType: "golden_image", TargetID: id, TargetLabel: in.Name, Before: imageAudit(old.input()), After: imageAudit(in)})
	})
	if err != nil {
		return nil, err
	}
	return getImage(ctx, s.DB, c.AccountID, id)
}

// ImageInUseError refuses deleting an image VMs were provisioned from.
type ImageInUseError struct {
	ImageID string
	VMs     int
}

func (e *ImageInUseError) Error() string {
	return fmt.Sprintf("%d %s provisioned from this golden image still %s: delete %s from the inventory first.",
		e.VMs, plural(e.VMs, "VM was", "VMs were"), plural(e.VMs, "exists", "exist"), plural(e.VMs, "it", "them"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// DeleteImage deletes a golden image for good. It is refused while VMs
// provisioned from it exist; policies that used it then offer no image.
func (s *Service) DeleteImage(ctx context.Context, c Caller, id string, actor audit.Actor) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		sc, err := s.scopeOf(ctx, tx, c)
		if err != nil {
			return err
		}
		img, err := getImage(ctx, tx, c.AccountID, id)
		if err != nil {
			return err
		}
		if ok, err := s.imageEditable(ctx, tx, sc, c, img); err != nil || !ok {
			if err == nil {
				err = ErrForbidden
			}
			return err
		}
		counts, err := s.vmCounts(ctx, tx, c.AccountID, []string{id})
		if err != nil {
			return err
		}
		if n := counts[id]; n > 0 {
			return &ImageInUseError{ImageID: id, VMs: n}
		}
		pols, err := s.policiesUsing(ctx, tx, c.AccountID, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE portal_policies SET image_id = NULL, updated_at = ? WHERE account_id = ? AND image_id = ?`,
			store.At(s.now()), c.AccountID, id); err != nil {
			return fmt.Errorf("delete image: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM portal_images WHERE id = ? AND account_id = ?`, id, c.AccountID); err != nil {
			return fmt.Errorf("delete image: %w", err)
		}
		names := []string{}
		for _, p := range pols {
			names = append(names, p.Name)
		}
		if err := s.changed(ctx, tx, c.AccountID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: c.AccountID, Action: "portal.image_deleted",
			TargetType: "golden_image", TargetID: id, TargetLabel: img.Name, Before: imageAudit(img.input()),
			After: map[string]any{"policies_left_without_image": names}})
	})
}
