package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse/internal/app"
	"gatehouse/internal/clientapi"
	"gatehouse/internal/license"
	"gatehouse/internal/license/operator"
	"gatehouse/internal/store"
)

func init() {
	register("vendor", "operator tools: issue, convert, extend, suspend, resume, list subscriptions; API token; releases", runVendor)
}

const vendorUsage = `Usage: gatehouse vendor <action> [flags]

Actions:
  issue    --edition business|enterprise --model per-device|per-user|mixed --seats N --term 1y [--trial] [--note TEXT]
           prints the new primary license key on stdout (details on stderr)
  show     KEY|ID                       show one subscription
  list     [--q TEXT] [--account ID]    list subscriptions, newest first
  convert  KEY|ID [--model mixed]       Business → Enterprise (same key, no reactivation)
  extend   KEY|ID [--term 1y] [--until 2027-12-31] [--seats N]
  suspend  KEY|ID [--reason TEXT]       activations stop validating ("suspended")
  resume   KEY|ID
  token                                 make a new vendor API token (replaces the previous one)
  release  add|list|show|publish|withdraw  Desktop releases and the update channels
           (gatehouse vendor release help)

Every action takes --database-url (default sqlite://data/gatehouse.db, or
GATEHOUSE_DATABASE_URL). KEY|ID is a subscription id or any of its keys; it
may also be given as --key or --id.
`

// runVendor runs the operator commands against the database directly.
func runVendor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, vendorUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	action, args := args[0], args[1:]
	if action == "release" {
		return runVendorRelease(ctx, args, stdout, stderr)
	}
	fs := newFlagSet("vendor "+action, "vendor "+action+" [flags]", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, vendorUsage, "\nFlags of ", action, ":\n"); fs.PrintDefaults() }
	dbURL := fs.String("database-url", app.Env("database-url", "sqlite://data/gatehouse.db"), "database URL")
	var (
		edition, model, term, until, note, reason, query, account, keyRef, idRef string
		seats, limit                                                             int
		trial                                                                    bool
	)
	switch action {
	case "issue":
		fs.StringVar(&edition, "edition", "", "business or enterprise")
		fs.StringVar(&model, "model", "per-device", "per-device, per-user or mixed (Enterprise)")
		fs.IntVar(&seats, "seats", 0, "number of seats")
		fs.StringVar(&term, "term", "1y", "term: 1y, 6m, 30d, 2w …")
		fs.BoolVar(&trial, "trial", false, "a time-limited trial")
		fs.StringVar(&note, "note", "", "vendor reference, e.g. the order number")
	case "convert":
		fs.StringVar(&model, "model", "", "new licensing model (default: keep)")
	case "extend":
		fs.StringVar(&term, "term", "", "add this term to the current end (or to now, if ended)")
		fs.StringVar(&until, "until", "", "new end date (2027-12-31) or RFC 3339 time")
		fs.IntVar(&seats, "seats", 0, "new seat count")
	case "suspend":
		fs.StringVar(&reason, "reason", "", "why (recorded in the audit log)")
	case "list":
		fs.StringVar(&query, "q", "", "search account name, note, or key's last group")
		fs.StringVar(&account, "account", "", "only this business account id")
		fs.IntVar(&limit, "limit", 100, "at most this many")
	case "show", "resume", "token":
	default:
		fmt.Fprintf(stderr, "gatehouse vendor: unknown action %q\n\n%s", action, vendorUsage)
		return errUsage
	}
	if action != "issue" && action != "list" && action != "token" {
		fs.StringVar(&keyRef, "key", "", "any key of the subscription")
		fs.StringVar(&idRef, "id", "", "subscription id")
	}
	// The subscription may come first ("extend KEY --term 1y"); flag
	// stops at the first non-flag argument, so take it off beforehand.
	var posRef string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		posRef, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 || (posRef != "" && fs.NArg() > 0) {
		fmt.Fprintf(stderr, "gatehouse vendor %s: unexpected arguments %q\n", action, fs.Args())
		return errUsage
	}
	ref := firstNonEmpty(keyRef, idRef, posRef, fs.Arg(0))
	if action != "issue" && action != "list" && action != "token" && ref == "" {
		fmt.Fprintf(stderr, "gatehouse vendor %s: give the subscription's key or id\n", action)
		return errUsage
	}

	db, err := store.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	svc := license.New(db, license.Config{})
	actor := license.OperatorActor("cli: " + firstNonEmpty(os.Getenv("USER"), "operator"))

	var sub *license.Subscription
	switch action {
	case "issue":
		t, err := license.ParseTerm(term)
		if err != nil {
			return usageErr(stderr, err)
		}
		var key string
		sub, key, err = svc.Issue(ctx, license.IssueInput{Edition: edition, Model: model, Seats: seats, Term: t, Trial: trial, Note: note}, actor)
		if err != nil {
			return vendorErr(err)
		}
		fmt.Fprintln(stdout, key)
		printSubscription(stderr, sub)
		return nil
	case "show":
		sub, err = svc.FindSubscription(ctx, ref)
	case "convert":
		var res *license.ConvertResult
		if res, err = svc.Convert(ctx, ref, model, actor); err == nil {
			sub = res.Subscription
			if res.SuspendedTrial != nil {
				fmt.Fprintf(stdout, "suspended the account's Enterprise trial %s\n", res.SuspendedTrial.ID)
			}
		}
	case "extend":
		in := license.ExtendInput{Seats: seats}
		if term != "" {
			if in.Term, err = license.ParseTerm(term); err != nil {
				return usageErr(stderr, err)
			}
		}
		if until != "" {
			if in.Until, err = clientapi.ParseDate(until); err != nil {
				return usageErr(stderr, fmt.Errorf("--until: want 2027-12-31 or an RFC 3339 time"))
			}
		}
		sub, err = svc.Extend(ctx, ref, in, actor)
	case "suspend":
		sub, err = svc.Suspend(ctx, ref, reason, actor)
	case "resume":
		sub, err = svc.Resume(ctx, ref, actor)
	case "list":
		subs, err := svc.ListSubscriptions(ctx, license.VendorFilter{Query: query, AccountID: account, Limit: limit})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKEY\tEDITION\tMODEL\tSEATS\tUSED\tSTATE\tENDS\tACCOUNT\tNOTE")
		now := time.Now()
		for _, s := range subs {
			ed := s.Edition
			if s.Trial {
				ed += " (trial)"
			}
			fmt.Fprintf(tw, "%s\t…%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.PrimaryLast, ed, s.Model, s.Seats, s.Used,
				s.State(now), s.EndsAt.UTC().Format("2006-01-02"), firstNonEmpty(s.AccountName, "(unregistered)"), s.Note)
		}
		return tw.Flush()
	case "token":
		tok, err := operator.NewTokens(db).Create(ctx, actor)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, tok)
		fmt.Fprintln(stderr, "Vendor API token (shown once; the previous token no longer works). Send it as \"Authorization: Bearer <token>\" to /api/vendor/v1/.")
		return nil
	}
	if err != nil {
		return vendorErr(err)
	}
	printSubscription(stdout, sub)
	return nil
}

func printSubscription(w io.Writer, s *license.Subscription) {
	trial := ""
	if s.Trial {
		trial = " trial"
	}
	fmt.Fprintf(w, "subscription %s: %s%s, %s, %d seats (%d used, %d reserved), %s until %s\n",
		s.ID, license.EditionLabel(s.Edition), trial, license.ModelLabel(s.Model), s.Seats, s.Used, s.Reserved,
		s.State(time.Now()), s.EndsAt.UTC().Format(time.RFC3339))
	if s.AccountID != "" {
		fmt.Fprintf(w, "registered to %s (%s)\n", s.AccountName, s.AccountID)
	} else {
		fmt.Fprintln(w, "not registered to a business account yet")
	}
}

func vendorErr(err error) error {
	var fe *license.FieldError
	switch {
	case errors.As(err, &fe):
		return fmt.Errorf("%s: %s", fe.Field, fe.Message)
	case license.IsNotFound(err):
		return errors.New("no subscription has this key or id")
	}
	return err
}

func usageErr(stderr io.Writer, err error) error {
	fmt.Fprintln(stderr, "gatehouse vendor:", err)
	return errUsage
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
