package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse/internal/app"
	"gatehouse/internal/clientapi"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
	"gatehouse/internal/updates"
)

const releaseUsage = `Usage: gatehouse vendor release <action> [flags]

Desktop releases and the update channels (spec 06). A release starts as a
draft; publish puts it on the early channel at once and on the business
channel after --business-after (or $GATEHOUSE_RELEASE_BUSINESS_DELAY), or
when published again with --channel business (promotion). Withdraw takes it
off every channel; it stays an ancestor of later releases.

Actions:
  add       --version 19.4.1 --build 54985 [--revision 1] [--locale en_US] [--vendor parallels] [--platform mac]
            [--codename TEXT] [--name TEXT] [--notes TEXT | --notes-file FILE] [--date "2026-05-01 14:30:00"]
            (--file PATH [--file-name NAME] | --url URL --sha256 HEX --size BYTES)
            --file stores the installer in Gatehouse (served with Range support);
            --url points at a file hosted elsewhere
  list      [--state draft|published|withdrawn] [--channel early|business]
  show      ID|UUID                          the release with its ancestry
  publish   ID|UUID [--channel early|business] [--business-after 72h]
  withdraw  ID|UUID [--reason TEXT]

Every action takes --database-url and --json (print the release(s) as JSON).
--major/--minor/--sub/--subsub set the version numbers one by one instead of --version.
`

// optInt is an int flag that knows whether it was given.
type optInt struct{ v *int }

func (o *optInt) String() string {
	if o == nil || o.v == nil {
		return ""
	}
	return strconv.Itoa(*o.v)
}

func (o *optInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("want a whole number")
	}
	o.v = &v
	return nil
}

func runVendorRelease(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, releaseUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	action, args := args[0], args[1:]
	fs := newFlagSet("vendor release "+action, "vendor release "+action+" [flags]", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, releaseUsage, "\nFlags of ", action, ":\n"); fs.PrintDefaults() }
	dbURL := fs.String("database-url", app.Env("database-url", "sqlite://data/gatehouse.db"), "database URL")
	asJSON := fs.Bool("json", false, "print JSON")
	var (
		major, minor, sub, subsub, build, revision                          optInt
		version, locale, vendor, platform, codename, name, notes, notesFile string
		date, file, fileName, fileURL, sha, state, channel, reason, after   string
		size                                                                int64
	)
	switch action {
	case "add":
		fs.StringVar(&version, "version", "", "version: 19.4.1 (major.minor.sub[.subsub])")
		fs.Var(&major, "major", "major version")
		fs.Var(&minor, "minor", "minor version")
		fs.Var(&sub, "sub", "sub (patch) version")
		fs.Var(&subsub, "subsub", "sub-sub version")
		fs.Var(&build, "build", "build number")
		fs.Var(&revision, "revision", "revision number (default 0)")
		fs.StringVar(&locale, "locale", "en_US", "locale")
		fs.StringVar(&vendor, "vendor", "parallels", "distributor name in the feed")
		fs.StringVar(&platform, "platform", "mac", "platform (OsType)")
		fs.StringVar(&codename, "codename", "", "code name (StringRepresentation)")
		fs.StringVar(&name, "name", "", "update name shown to users (default: \"Desktop <version> (build N) is available!\")")
		fs.StringVar(&notes, "notes", "", "release notes (UpdateDescription)")
		fs.StringVar(&notesFile, "notes-file", "", "read the release notes from this file")
		fs.StringVar(&date, "date", "", "release date, \"2026-05-01 14:30:00\" UTC (default now)")
		fs.StringVar(&file, "file", "", "installer file to store in Gatehouse")
		fs.StringVar(&fileName, "file-name", "", "name the stored file is served under (default: the file's name)")
		fs.StringVar(&fileURL, "url", "", "URL of a file hosted elsewhere")
		fs.StringVar(&sha, "sha256", "", "SHA-256 of the file (required with --url; checked with --file)")
		fs.Int64Var(&size, "size", 0, "size of the file in bytes (required with --url)")
	case "list":
		fs.StringVar(&state, "state", "", "only draft, published or withdrawn releases")
		fs.StringVar(&channel, "channel", "", "only releases offered on early or business now")
	case "publish":
		fs.StringVar(&channel, "channel", "early", "early (publish) or business (publish and promote now)")
		fs.StringVar(&after, "business-after", app.Env("release-business-delay", ""), "promote to business after this long, e.g. 168h (early only)")
	case "withdraw":
		fs.StringVar(&reason, "reason", "", "why (recorded in the audit log)")
	case "show":
	default:
		fmt.Fprintf(stderr, "gatehouse vendor release: unknown action %q\n\n%s", action, releaseUsage)
		return errUsage
	}
	// The release may stand anywhere among the flags.
	var positional []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) > 1 {
		fmt.Fprintf(stderr, "gatehouse vendor release %s: unexpected arguments %q\n", action, positional[1:])
		return errUsage
	}
	ref := ""
	if len(positional) == 1 {
		ref = positional[0]
	}
	needsRef := action == "show" || action == "publish" || action == "withdraw"
	if needsRef && ref == "" {
		fmt.Fprintf(stderr, "gatehouse vendor release %s: give the release's id or uuid\n", action)
		return errUsage
	}
	if !needsRef && ref != "" {
		fmt.Fprintf(stderr, "gatehouse vendor release %s: unexpected argument %q\n", action, ref)
		return errUsage
	}

	var in updates.ReleaseInput
	var body io.Reader
	if action == "add" {
		if version != "" {
			parts := strings.Split(version, ".")
			if len(parts) < 2 || len(parts) > 4 {
				return releaseUsageErr(stderr, errors.New("--version: want major.minor[.sub[.subsub]], e.g. 19.4.1"))
			}
			targets := []*optInt{&major, &minor, &sub, &subsub}
			for i, p := range parts {
				if err := targets[i].Set(p); err != nil {
					return releaseUsageErr(stderr, fmt.Errorf("--version: %q is not a number", p))
				}
			}
		}
		if notesFile != "" {
			b, err := os.ReadFile(notesFile)
			if err != nil {
				return releaseUsageErr(stderr, err)
			}
			notes = string(b)
		}
		if file != "" && fileURL != "" {
			return releaseUsageErr(stderr, errors.New("give --file or --url, not both"))
		}
		in = updates.ReleaseInput{Major: major.v, Minor: minor.v, Sub: sub.v, SubSub: subsub.v, Build: build.v, Revision: revision.v,
			Locale: locale, Vendor: vendor, Platform: platform, Codename: codename, Name: name, Notes: notes, ReleasedAt: date,
			FileURL: fileURL, SHA256: sha, Size: size, FileName: fileName}
		if file != "" {
			f, err := os.Open(file)
			if err != nil {
				return releaseUsageErr(stderr, err)
			}
			defer f.Close()
			if in.FileName == "" {
				in.FileName = filepath.Base(file)
			}
			if st, err := f.Stat(); err == nil && in.Size == 0 {
				in.Size = st.Size()
			}
			body = f
		}
	}
	var pub updates.PublishInput
	if action == "publish" {
		pub.Channel = channel
		if after != "" {
			d, err := time.ParseDuration(after)
			if err != nil {
				return releaseUsageErr(stderr, errors.New("--business-after: want a duration such as 168h"))
			}
			pub.BusinessAfter = &d
		}
	}

	db, err := store.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	// File URLs of hosted releases are printed with the public URL the
	// server uses (GATEHOUSE_PUBLIC_URL), if known.
	svc := updates.New(db, updates.Config{PublicURL: app.Env("public-url", "")})
	actor := license.OperatorActor("cli: " + firstNonEmpty(os.Getenv("USER"), "operator"))

	var rel *updates.Release
	switch action {
	case "add":
		rel, err = svc.AddRelease(ctx, in, body, actor)
	case "publish":
		rel, err = svc.Publish(ctx, ref, pub, actor)
	case "withdraw":
		rel, err = svc.Withdraw(ctx, ref, reason, actor)
	case "show":
		rel, err = svc.Release(ctx, ref)
	case "list":
		rs, err := svc.ListReleases(ctx, updates.ReleaseFilter{State: state, Channel: channel})
		if err != nil {
			return releaseErr(err)
		}
		if *asJSON {
			out := make([]clientapi.ReleaseJSON, 0, len(rs))
			for i := range rs {
				out = append(out, clientapi.ReleaseToJSON(&rs[i], svc.FileURLFor(&rs[i]), time.Now()))
			}
			return writeJSONOut(stdout, map[string]any{"releases": out})
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUUID\tVERSION\tSTATE\tCHANNELS\tSIZE MB\tRELEASED")
		for i := range rs {
			r := &rs[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.ID, r.UUID(), r.Version(), r.State,
				firstNonEmpty(strings.Join(r.Channels(time.Now()), ","), "-"), (r.Size+(1<<20)-1)>>20, r.ReleasedAt.UTC().Format("2006-01-02 15:04:05"))
		}
		return tw.Flush()
	}
	if err != nil {
		return releaseErr(err)
	}
	anc, err := svc.Ancestry(ctx, rel)
	if err != nil {
		return err
	}
	if *asJSON {
		j := clientapi.ReleaseToJSON(rel, svc.FileURLFor(rel), time.Now())
		j.Ancestors = anc
		return writeJSONOut(stdout, map[string]any{"release": j})
	}
	printRelease(stdout, svc, rel, anc)
	return nil
}

func printRelease(w io.Writer, svc *updates.Service, r *updates.Release, ancestors []string) {
	fmt.Fprintf(w, "release %s: %s\n", r.ID, r.Label())
	fmt.Fprintf(w, "  uuid      %s\n", r.UUID())
	state := r.State
	switch {
	case r.State == updates.StatePublished:
		ch := strings.Join(r.Channels(time.Now()), " and ")
		state += " on " + ch
		if !r.BusinessAt.IsZero() && r.BusinessAt.After(time.Now()) {
			state += ", business from " + r.BusinessAt.UTC().Format(time.RFC3339)
		}
	case r.State == updates.StateWithdrawn && r.WithdrawReason != "":
		state += " (" + r.WithdrawReason + ")"
	}
	fmt.Fprintf(w, "  state     %s\n", state)
	switch {
	case r.Hosted():
		fmt.Fprintf(w, "  file      %s (stored in Gatehouse, served at %s)\n", r.FileName, svc.FileURLFor(r))
	case r.FileURL != "":
		fmt.Fprintf(w, "  file      %s\n", r.FileURL)
	default:
		fmt.Fprintf(w, "  file      none yet\n")
	}
	if r.SHA256 != "" {
		fmt.Fprintf(w, "  sha256    %s\n  size      %d bytes\n", r.SHA256, r.Size)
	}
	fmt.Fprintf(w, "  released  %s\n", r.ReleasedAt.UTC().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(w, "  ancestors %d\n", len(ancestors))
	for _, a := range ancestors {
		fmt.Fprintf(w, "            %s\n", a)
	}
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func releaseErr(err error) error {
	if fe, ok := updates.IsFieldError(err); ok {
		return fmt.Errorf("%s: %s", fe.Field, fe.Message)
	}
	if errors.Is(err, updates.ErrNotFound) {
		return errors.New("no release has this id or uuid")
	}
	return err
}

func releaseUsageErr(stderr io.Writer, err error) error {
	fmt.Fprintln(stderr, "gatehouse vendor release:", err)
	return errUsage
}
