package portal_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/license"
	"gatehouse/internal/portal"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestGoldenImages(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, license.EditionEnterprise, false)
		bad := []struct {
			in    portal.ImageInput
			field string
		}{
			{portal.ImageInput{Name: " ", AppleSilicon: portal.Arch{Enabled: true, URL: "https://f/x", SHA256: sha('a')}}, "name"},
			{portal.ImageInput{Name: "A"}, "arch"},
			{portal.ImageInput{Name: "A", Intel: portal.Arch{Enabled: true, URL: "http://f/x", SHA256: sha('a')}}, "intel_url"},
			{portal.ImageInput{Name: "A", Intel: portal.Arch{Enabled: true, URL: "https://user:pw@f/x", SHA256: sha('a')}}, "intel_url"},
			{portal.ImageInput{Name: "A", AppleSilicon: portal.Arch{Enabled: true, URL: "https://f/x", SHA256: sha('a')[:63]}}, "arm_sha256"},
			{portal.ImageInput{Name: "A", AppleSilicon: portal.Arch{Enabled: true, URL: "https://f/x", SHA256: sha('g')}}, "arm_sha256"},
		}
		for _, b := range bad {
			_, err := e.svc.SaveImage(ctx, e.admin, "", b.in, actor)
			fieldError(t, err, b.field)
		}
		// A disabled architecture keeps what was typed.
		img, err := e.svc.SaveImage(ctx, e.admin, "", portal.ImageInput{Name: "Win 11", Description: "For engineering",
			AppleSilicon: portal.Arch{Enabled: true, URL: " https://files.example.com/w.pvmp ", SHA256: strings.ToUpper(sha('e'))},
			Intel:        portal.Arch{URL: "https://files.example.com/old-intel.pvmp", SHA256: "not yet"}}, actor)
		if err != nil {
			t.Fatal(err)
		}
		if img.AppleSilicon.URL != "https://files.example.com/w.pvmp" || img.AppleSilicon.SHA256 != sha('e') || img.Intel.Enabled || img.Intel.SHA256 != "not yet" {
			t.Fatalf("stored image: %+v", img)
		}
		// Cards: policies using it and VMs provisioned from it.
		vms := map[string]int{img.ID: 3}
		e.svc.CountVMs = func(_ context.Context, _ store.Querier, acct string, imgs []string) (map[string]int, error) {
			if acct != e.admin.AccountID {
				t.Errorf("counted VMs of another account")
			}
			out := map[string]int{}
			for _, id := range imgs {
				out[id] = vms[id]
			}
			return out, nil
		}
		p := e.policy(t, "Engineering", img.ID, e.k2)
		list, err := e.svc.Images(ctx, e.admin)
		if err != nil || len(list) != 1 || list[0].VMs != 3 || len(list[0].Policies) != 1 || list[0].Policies[0].Name != "Engineering" {
			t.Fatalf("images: %+v, %v", list, err)
		}
		err = e.svc.DeleteImage(ctx, e.admin, img.ID, actor)
		var inUse *portal.ImageInUseError
		if !errors.As(err, &inUse) || inUse.VMs != 3 || !strings.Contains(err.Error(), "3 VMs were provisioned") {
			t.Fatalf("delete with VMs: %v", err)
		}
		delete(vms, img.ID)
		if err := e.svc.DeleteImage(ctx, e.admin, img.ID, actor); err != nil {
			t.Fatal(err)
		}
		if p2, err := e.svc.Policy(ctx, e.admin, p.ID); err != nil || p2.ImageID != "" {
			t.Fatalf("policy after its image was deleted: %+v %v", p2, err)
		}
		// Another account sees nothing.
		other := newEnv(t, db, license.EditionEnterprise, false)
		if _, err := other.svc.Image(ctx, other.admin, img.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Fatalf("other account: %v", err)
		}
		if _, err := other.svc.Policy(ctx, other.admin, p.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Fatalf("other account policy: %v", err)
		}
	})
}

func TestPolicies(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, license.EditionEnterprise, false)
		img := e.image(t, "Corp")
		p := e.policy(t, "Design policy", img.ID, e.k1)
		_, err := e.svc.SavePolicy(ctx, e.admin, "", portal.PolicyInput{Name: "design  POLICY"}, actor)
		if msg := fieldError(t, err, "name"); !strings.Contains(msg, "already called") {
			t.Fatal(msg)
		}
		_, err = e.svc.SavePolicy(ctx, e.admin, "", portal.PolicyInput{Name: "Second", Groups: []string{e.k2, e.k1}}, actor)
		if msg := fieldError(t, err, "groups"); !strings.Contains(msg, `“Design” already has the policy "Design policy"`) {
			t.Fatal(msg)
		}
		_, err = e.svc.SavePolicy(ctx, e.admin, "", portal.PolicyInput{Name: "Second", GoldenImage: portal.SettingSet{On: true, Values: map[string]string{"network": "wifi"}}}, actor)
		fieldError(t, err, "gi_network")
		// Failed saves left nothing behind.
		if list, _ := e.svc.Policies(ctx, e.admin); len(list) != 1 {
			t.Fatalf("policies after refused saves: %d", len(list))
		}
		// Editing keeps it unique and may move groups.
		in := portal.PolicyInput{Name: "Design policy", ImageID: img.ID, Groups: []string{e.k1, e.primary}, Controls: portal.Controls{LicenseBound: true},
			GoldenImage: p.GoldenImage, Other: p.Other}
		p2, err := e.svc.SavePolicy(ctx, e.admin, p.ID, in, actor)
		if err != nil || len(p2.Groups) != 2 || !p2.Controls.LicenseBound || p2.GoldenImage.Value("clipboard") != "disconnect" {
			t.Fatalf("edit: %+v %v", p2, err)
		}
		groups, err := e.svc.Groups(ctx, e.admin, true)
		if err != nil || len(groups) != 3 || !groups[0].Primary() || groups[0].PolicyName != "Design policy" || groups[0].ImageName != "Corp" {
			t.Fatalf("groups: %+v %v", groups, err)
		}
		if err := e.svc.DeletePolicy(ctx, e.admin, p.ID, actor); err != nil {
			t.Fatal(err)
		}
		groups, _ = e.svc.Groups(ctx, e.admin, true)
		for _, g := range groups {
			if g.PolicyID != "" {
				t.Fatalf("group %s kept a deleted policy", g.Label())
			}
		}
		// Business keys take no policy.
		b := newEnv(t, db, license.EditionBusiness, false)
		_, err = b.svc.SavePolicy(ctx, b.admin, "", portal.PolicyInput{Name: "X", Groups: []string{b.k1}}, actor)
		fieldError(t, err, "groups")
	})
}

// TestOnePolicyPerGroupConcurrent: two nodes (two connection pools to one
// PostgreSQL database) save two policies for the same group at the same
// moment, many times: each time exactly one wins and the other gets a
// form error naming the winner.
func TestOnePolicyPerGroupConcurrent(t *testing.T) {
	dbURL := testenv.PostgresURL(t)
	ctx := context.Background()
	node1, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer node1.Close()
	if _, err := node1.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	node2, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer node2.Close()
	e := newEnv(t, node1, license.EditionEnterprise, false)
	svc2 := portal.New(node2)
	nodes := []*portal.Service{e.svc, svc2}
	for round := 0; round < 20; round++ {
		key := e.sublicense(t, "Round "+string(rune('A'+round)))
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i := range nodes {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				_, errs[i] = nodes[i].SavePolicy(ctx, e.admin, "", portal.PolicyInput{Name: "Round " + string(rune('A'+round)) + " node " + string(rune('1'+i)),
					Groups: []string{key}}, actor)
			}(i)
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			if err == nil {
				won++
				continue
			}
			fe, ok := portal.IsFieldError(err)
			if !ok || fe.Field != "groups" || !strings.Contains(fe.Message, "already has the policy") {
				t.Fatalf("round %d node %d: %v, want a groups form error", round, i+1, err)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d saves won, want exactly 1 (%v)", round, won, errs)
		}
		var n int
		if err := node1.QueryRow(ctx, `SELECT COUNT(*) FROM portal_policy_groups WHERE key_id = ?`, key).Scan(&n); err != nil || n != 1 {
			t.Fatalf("round %d: %d policies on the group", round, n)
		}
	}
	// The losers' policies were not half-created.
	var policies int
	if err := node1.QueryRow(ctx, `SELECT COUNT(*) FROM portal_policies WHERE account_id = ?`, e.admin.AccountID).Scan(&policies); err != nil || policies != 20 {
		t.Fatalf("%d policies, want 20 (one per round)", policies)
	}
}

// TestProfilePrimaryKeyPropagation: applying a profile to the primary key
// sets it on every existing sublicense without one; later changes on the
// primary leave sublicenses already set alone.
func TestProfilePrimaryKeyPropagation(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, license.EditionBusiness, false)
		mk := func(name string) *portal.Profile {
			p, err := e.svc.SaveProfile(ctx, e.admin, "", portal.ProfileInput{Name: name, UpdatesEnabled: true,
				Intel: portal.Payload{Name: "kept while off", URL: "ftp://not-validated-while-off"}}, actor)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		a, b, c := mk("Alpha"), mk("Beta"), mk("Gamma")
		if a.Intel.Name != "kept while off" {
			t.Fatalf("a disabled payload lost its settings: %+v", a.Intel)
		}
		_, err := e.svc.SaveProfile(ctx, e.admin, "", portal.ProfileInput{Name: "default"}, actor)
		fieldError(t, err, "name")
		_, err = e.svc.SaveProfile(ctx, e.admin, "", portal.ProfileInput{Name: "X", AppleSilicon: portal.Payload{Enabled: true, Name: "n", URL: "https://f/x", SHA256: "12"}}, actor)
		fieldError(t, err, "arm_sha256")

		// k2 has its own profile before the primary gets one.
		if _, err := e.svc.ApplyProfile(ctx, e.admin, e.k2, c.ID, actor); err != nil {
			t.Fatal(err)
		}
		n, err := e.svc.ApplyProfile(ctx, e.admin, e.primary, a.ID, actor)
		if err != nil || n != 1 {
			t.Fatalf("apply to primary: %d sublicenses set, %v; want 1 (k1)", n, err)
		}
		want := func(step string, m map[string]string) {
			t.Helper()
			gs, err := e.svc.Groups(ctx, e.admin, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range gs {
				if w, ok := m[g.KeyID]; ok && g.ProfileName != w {
					t.Errorf("%s: %s has %q, want %q", step, g.Label(), g.ProfileName, w)
				}
			}
		}
		want("first apply", map[string]string{e.primary: "Alpha", e.k1: "Alpha", e.k2: "Gamma"})
		k3 := e.sublicense(t, "Later")
		if n, err := e.svc.ApplyProfile(ctx, e.admin, e.primary, b.ID, actor); err != nil || n != 1 {
			t.Fatalf("second apply: %d, %v; want only the new, unset sublicense", n, err)
		}
		want("second apply", map[string]string{e.primary: "Beta", e.k1: "Alpha", e.k2: "Gamma", k3: "Beta"})
		if _, err := e.svc.ApplyProfile(ctx, e.admin, e.k1, "", actor); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.DeleteProfile(ctx, e.admin, c.ID, actor); err != nil {
			t.Fatal(err)
		}
		want("back to default", map[string]string{e.k1: "Default", e.k2: "Default", e.primary: "Beta"})
		// License admins do not manage profiles.
		la := newPerson(t, db)
		addMember(t, db, e.admin.AccountID, la, license.RoleLicenseAdmin)
		if _, err := e.svc.Profiles(ctx, portal.Caller{PersonID: la, AccountID: e.admin.AccountID, Role: license.RoleLicenseAdmin}); !errors.Is(err, portal.ErrForbidden) {
			t.Fatalf("license admin listed profiles: %v", err)
		}
	})
}

// TestLicenseAdminScope: a license admin of one sublicense sees and
// changes only policies of that key.
func TestLicenseAdminScope(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, license.EditionEnterprise, false)
		la := newPerson(t, db)
		addMember(t, db, e.admin.AccountID, la, license.RoleLicenseAdmin)
		if err := e.lic.AssignKeyAdmin(ctx, e.admin, e.k1, la, actor); err != nil {
			t.Fatal(err)
		}
		lac := portal.Caller{PersonID: la, AccountID: e.admin.AccountID, Role: license.RoleLicenseAdmin}
		theirs := e.policy(t, "Design", "", e.k1)
		notTheirs := e.policy(t, "Engineering", e.image(t, "Eng image").ID, e.k2)
		list, err := e.svc.Policies(ctx, lac)
		if err != nil || len(list) != 1 || list[0].ID != theirs.ID {
			t.Fatalf("license admin sees %+v, %v", list, err)
		}
		if _, err := e.svc.Policy(ctx, lac, notTheirs.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Fatalf("license admin opened another key's policy: %v", err)
		}
		if err := e.svc.DeletePolicy(ctx, lac, notTheirs.ID, actor); !errors.Is(err, portal.ErrNotFound) {
			t.Fatalf("license admin deleted another key's policy: %v", err)
		}
		if _, err := e.svc.SavePolicy(ctx, lac, theirs.ID, portal.PolicyInput{Name: "Design", Groups: []string{e.k1, e.k2}}, actor); err == nil {
			t.Fatal("license admin added a key they do not manage")
		}
		gs, err := e.svc.Groups(ctx, lac, true)
		if err != nil || len(gs) != 1 || gs[0].KeyID != e.k1 {
			t.Fatalf("license admin groups: %+v %v", gs, err)
		}
		imgs, err := e.svc.Images(ctx, lac)
		if err != nil || len(imgs) != 0 {
			t.Fatalf("license admin sees the image of another key's policy: %+v %v", imgs, err)
		}
		user := portal.Caller{PersonID: newPerson(t, db), AccountID: e.admin.AccountID, Role: license.RoleUser}
		if _, err := e.svc.Policies(ctx, user); !errors.Is(err, portal.ErrForbidden) {
			t.Fatalf("plain user: %v", err)
		}
	})
}

// TestLicensingHooks: suspending an Enterprise trial unassigns its
// policies (kept, with their images); three months after the end the
// retention job purges images, policies and profiles.
func TestLicensingHooks(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, license.EditionEnterprise, true)
		img := e.image(t, "Trial image")
		p := e.policy(t, "Trial policy", img.ID, e.k1, e.primary)
		if _, err := e.lic.Suspend(ctx, e.sub, "purchased", license.OperatorActor("test")); err != nil {
			t.Fatal(err)
		}
		got, err := e.svc.Policy(ctx, e.admin, p.ID)
		if err != nil || len(got.Groups) != 0 || got.ImageID != img.ID {
			t.Fatalf("after trial suspension: %+v %v; want kept, unassigned, image kept", got, err)
		}

		// A second account: its subscription ends; the purge waits three months.
		f := newEnv(t, db, license.EditionEnterprise, false)
		fimg := f.image(t, "Image")
		f.policy(t, "Policy", fimg.ID, f.k1)
		prof, err := f.svc.SaveProfile(ctx, f.admin, "", portal.ProfileInput{Name: "Prof"}, actor)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ApplyProfile(ctx, f.admin, f.primary, prof.ID, actor); err != nil {
			t.Fatal(err)
		}
		count := func() (n int) {
			t.Helper()
			if err := db.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM portal_images WHERE account_id = ?) + (SELECT COUNT(*) FROM portal_policies WHERE account_id = ?)
				+ (SELECT COUNT(*) FROM portal_profiles WHERE account_id = ?)`, f.admin.AccountID, f.admin.AccountID, f.admin.AccountID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		f.clock.add(366*24*time.Hour + time.Hour) // just past the one-year term (a leap year at most)
		if _, err := f.lic.RunRetention(ctx); err != nil {
			t.Fatal(err)
		}
		st, err := f.svc.Enterprise(ctx, f.admin.AccountID, 90*24*time.Hour)
		if err != nil || st.Active || st.KeptUntil.IsZero() {
			t.Fatalf("ended subscription: %+v %v", st, err)
		}
		if n := count(); n != 3 {
			t.Fatalf("right after the end %d objects, want all 3 kept", n)
		}
		f.clock.add(87 * 24 * time.Hour) // still less than 90 days after the end
		if _, err := f.lic.RunRetention(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 3 {
			t.Fatalf("before three months %d objects, want 3", n)
		}
		f.clock.add(3 * 24 * time.Hour)
		rep, err := f.lic.RunRetention(ctx)
		if err != nil || len(rep.Purged) == 0 {
			t.Fatalf("retention: %+v %v", rep, err)
		}
		if n := count(); n != 0 {
			t.Fatalf("after three months %d objects left, want 0", n)
		}
		// The suspended trial ended a year after it started too: by now
		// its settings are past retention as well.
		if _, err := e.svc.Policy(ctx, e.admin, p.ID); !errors.Is(err, portal.ErrNotFound) {
			t.Fatalf("suspended trial's policy after its retention: %v", err)
		}
	})
}
