package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/clientapi"
	"gatehouse/internal/fleet"
	"gatehouse/internal/idp"
	"gatehouse/internal/ids"
	"gatehouse/internal/jobs"
	"gatehouse/internal/license"
	"gatehouse/internal/mail"
	"gatehouse/internal/portal"
	"gatehouse/internal/portal/linkcheck"
	"gatehouse/internal/saml"
	"gatehouse/internal/scim"
	"gatehouse/internal/sso"
	"gatehouse/internal/store"
	"gatehouse/internal/updates"
	"gatehouse/internal/updates/httpfetch"
	"gatehouse/internal/updates/mobileconfig"
	"gatehouse/internal/web"
)

// App is one wired Gatehouse node.
type App struct {
	Config   Config
	Log      *slog.Logger
	DB       *store.DB
	Accounts *account.Service
	License  *license.Service
	IdP      *idp.Service
	SCIM     *scim.Service
	SSO      *sso.Service
	// SSOEffects carries SCIM's effects on people (sessions, admin rights,
	// per-user seats).
	SSOEffects *sso.Effects
	Web        *web.Server
	// Vendor is the operator API (subscriptions and releases).
	Vendor *clientapi.VendorHandler
	// Client is the Desktop client API; features mount their endpoints on it.
	Client *clientapi.Handler
	// Fleet holds check-ins, VMs and commands; the portal sets its Sections.
	Fleet *fleet.Service
	// Background runs per node while serving (not leased like Jobs), until
	// its context ends; shutdown waits for each to return after the HTTP
	// server has drained.
	Background []func(ctx context.Context)
	// Updates serves releases, feeds, mirrors and deployment files.
	Updates  *updates.Service
	Portal   *portal.Service
	Jobs     *jobs.Runner
	Registry *prometheus.Registry
	handler  http.Handler
	metrics  http.Handler // served on Config.MetricsAddr only
}

// NewLogger builds the slog logger the config asks for.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// New opens the database, runs migrations and wires every service.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	applied, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("database migrated", "applied", len(applied), "database", db.Redacted())
	}
	a, err := wire(ctx, cfg, log, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// wire builds every service of the node in dependency order, handing each
// its dependencies through its constructor or config struct, then mounts
// the routes and lists the background jobs. It is the one place that shows
// what depends on what (docs/architecture.md draws it): no feature
// registers itself, and nothing is attached to a service after it is built.
// A new feature adds its construction here, after what it needs.
func wire(ctx context.Context, cfg Config, log *slog.Logger, db *store.DB) (*App, error) {
	cookieKey, err := store.EnsureSetting(ctx, db, "cookie_key", func() (string, error) { return ids.Secret(32), nil })
	if err != nil {
		return nil, err
	}
	key, err := base64.RawURLEncoding.DecodeString(cookieKey)
	if err != nil {
		return nil, fmt.Errorf("cookie key: %w", err)
	}
	// One request-signing credential per deployment, made by the first node
	// to start and shared through the settings table. It signs the
	// AuthnRequests of IdPs that want them signed; its certificate is in the
	// SP metadata the configurator and /saml/{account}/metadata serve.
	signingKey, signingCert, err := saml.EnsureSigningCredential(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("wire SSO: %w", err)
	}
	var signer *mobileconfig.Signer
	if cfg.MDMSigningCert != "" {
		if signer, err = mobileconfig.LoadSigner(cfg.MDMSigningCert, cfg.MDMSigningKey); err != nil {
			return nil, err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), newDBCollector(db))
	scimBase := cfg.PublicURL + "/scim/v2"

	// 1. The IdP configurator. It only uses the SCIM server's stateless
	// admin methods (tokens, on/off, activity), so its own SCIM instance
	// over the same database is equivalent to the one serving /scim/v2.
	// Whether an account may use it is licensing's answer, read from the
	// license tables by the licensing package.
	idpSvc := idp.New(db, idp.Config{
		PublicURL:     cfg.PublicURL,
		Resolver:      idp.NewResolver(cfg.DNSServer),
		SPSigningCert: signingCert,
		LicenseCheck:  func(ctx context.Context, accountID string) (bool, error) { return license.HoldsKey(ctx, db, accountID) },
	}, &scim.Service{DB: db, BaseURL: scimBase, Logger: log}, log)

	// 2. People, business accounts, sessions. While an IdP integration is
	// active, the configurator narrows admin rights to SSO admins and the
	// backup login.
	accounts := &account.Service{DB: db, Config: account.DefaultConfig(), PublicURL: cfg.PublicURL, Log: log,
		AdminAccess: idpSvc.AdminAccess}

	// 3. The Management Portal (spec 05): golden images, policies, user
	// groups and configuration profiles, then the fleet (spec 07 check-ins,
	// host and VM inventory, commands), whose answer carries the portal's
	// settings sections. The portal reads the fleet's inventory tables
	// itself (no service cycle) and bumps the fleet's settings version in
	// every change installations receive, as update settings do. Licensing
	// events reach the portal through its hooks: a suspended trial
	// unassigns its policies, the retention job purges them after the end.
	upd := updates.New(db, updates.Config{PublicURL: cfg.PublicURL, BusinessDelay: cfg.ReleaseBusinessDelay,
		Fetch: httpfetch.New(nil), Log: log})
	bumpFleet := func(ctx context.Context, tx *store.Tx, accountID string) error {
		return fleet.BumpSettings(ctx, tx, accountID, time.Now())
	}
	upd.SettingsChanged = bumpFleet
	portalSvc := &portal.Service{DB: db, Changed: bumpFleet, CountVMs: fleet.CountVMsByImage, Hosts: portal.FleetHosts(db),
		UpdateSettings: func(ctx context.Context, accountID string) (string, string, error) {
			cs, err := upd.ClientSettingsFor(ctx, accountID)
			return cs.Channel, cs.FeedURL, err
		}}
	fleetCfg := fleet.DefaultConfig()
	fleetCfg.Log = log
	fleetSvc := fleet.New(db, fleetCfg)
	fleetSvc.Sections = portalSvc // the answer's settings sections

	// 4. Licensing. Registering a key from the personal workspace creates
	// the business account through the account service; refused SSO
	// activations join the SSO failures admins read.
	lic := license.New(db, license.Config{
		PublicURL: cfg.PublicURL,
		Accounts:  accounts,
		Hooks: license.Hooks{
			TrialSuspended:  []license.Hook{portalSvc.TrialSuspended},
			PurgeEnterprise: []license.Hook{portalSvc.PurgeEnterprise},
		},
		RecordSSOFailure: func(ctx context.Context, accountID, code, detail, subject, ip string) string {
			return sso.RecordFailure(ctx, db, log, accountID, saml.PurposeDesktop, code, detail, subject, ip)
		},
	})

	// 5. SCIM provisioning and its effects on people (spec 03): sessions end,
	// admin rights drop, and per-user seats are revoked by licensing.
	directory := ssoDirectory{idpSvc}
	scimActor := audit.Actor{Type: audit.ActorToken, ID: "scim", Label: "identity provider (SCIM)"}
	effects := &sso.Effects{Accounts: accounts, Directory: directory, OnRevoke: []sso.RevokeFunc{
		func(ctx context.Context, tx *store.Tx, accountID, personID, reason string) error {
			_, _, err := lic.RevokePersonTx(ctx, tx, accountID, personID, reason, scimActor)
			return err
		},
	}}
	scimSvc := &scim.Service{DB: db, BaseURL: scimBase, Logger: log, Hooks: effects, RateLimit: cfg.SCIMRate}

	// 6. SSO sign-in: SAML, the account's settings from the configurator,
	// SCIM's users, and licensing's seat pool preview for test sign-ins.
	samlSvc := &saml.Service{DB: db, SigningKey: signingKey, SigningCert: signingCert}
	ssoSvc := &sso.Service{DB: db, SAML: samlSvc, Accounts: accounts, Directory: directory,
		SCIM: sso.SCIMAdapter{SCIM: scimSvc}, SeatPools: seatPoolPreview(lic), Log: log}

	// 7. Updates and deployment (spec 06): built with the portal above.

	// 8. Transports: the portal, the Desktop client API (key and SSO
	// activation) and the vendor API.
	srv, err := web.New(web.Config{PublicURL: cfg.PublicURL, TrustProxy: cfg.TrustProxy, CookieKey: key, MailServer: cfg.SMTPURL != "",
		DashboardCards: []web.DashboardCard{web.LicenseDashboardCard(lic), web.IdPDashboardCard(idpSvc)},
		LicenseHolders: lic.ProductLicenseHolders,
		Installer:      installerLookup(lic, upd),
	}, db, accounts, log, web.NewMetrics(reg))
	if err != nil {
		return nil, err
	}
	// The client API carries the fleet check-in; each node buffers its
	// check-ins' last-seen times and flushes them (a per-node background
	// loop, not a leased job: see Background below).
	client := clientapi.New(lic, clientapi.Config{ActivationLimit: clientapi.DefaultActivationLimit, ClientIP: web.ClientIP, Log: log,
		Fleet: fleetSvc})
	reg.MustRegister(newFleetCollector(fleetSvc))
	ssoClient := clientapi.NewSSO(lic, clientapi.SSOConfig{
		PublicURL:        cfg.PublicURL,
		AccountForDomain: idpSvc.AccountForDomain,
		Pending:          pendingRefusal(idpSvc, ssoSvc, log),
		StartLimit:       clientapi.DefaultActivationLimit,
		ClientIP:         web.ClientIP,
		Log:              log,
	})
	// The vendor API takes operator tokens made by `gatehouse vendor token`.
	vendor := clientapi.NewVendor(lic, clientapi.VendorConfig{Log: log, Releases: upd})

	// Routes. The JSON APIs of Desktop installations and the published
	// certificate key authenticate on their own (device credentials).
	srv.Add(web.LicenseRoutes(srv, lic)...)
	srv.Add(
		web.Route{Path: clientapi.Prefix, Access: web.Machine, Handler: client},
		web.Route{Method: "GET", Path: clientapi.WellKnownPath, Access: web.Machine, Handler: client},
		web.Route{Method: "GET", Path: clientapi.WellKnownPath + ".pem", Access: web.Machine, Handler: client},
		web.Route{Path: clientapi.VendorPrefix, Access: web.Machine, Handler: vendor},
	)
	srv.Add(web.IdPRoutes(srv, idpSvc)...)
	srv.Add(web.Route{Path: "/scim/", Access: web.Machine, Handler: scim.Handler(scimSvc)})
	srv.Add(web.SSORoutes(srv, ssoSvc)...)
	srv.Add(web.SSOActivationRoutes(srv, lic, ssoSvc, web.SSOActivationConfig{
		DownloadURL:    cfg.DownloadURL,
		ReservedGroups: reservedGroups(idpSvc),
	})...)
	srv.Add(web.Route{Path: clientapi.SSOPrefix, Access: web.Machine, Handler: ssoClient})
	srv.Add(web.UpdatesPublicRoutes(srv, upd)...)
	srv.Add(web.UpdatesRoutes(srv, upd, lic, web.UpdatesConfig{Signer: signer})...)
	srv.Add(web.PortalRoutes(srv, portalSvc, web.PortalConfig{Links: &linkcheck.Checker{}, Retention: lic.Config.Retention,
		Preview: portalSvc.PreviewPolicy,
		InventoryURL: func(accountID, _ string) string {
			return "/accounts/" + accountID + "/vms?" + url.Values{"f_source": {"golden_image"}}.Encode()
		}})...)
	// The Virtual Machines inventory reads what check-ins store and queues
	// commands through the fleet service.
	srv.Add(web.InventoryRoutes(srv, &fleet.Inventory{DB: db, Now: lic.Config.Now}, fleetSvc, lic)...)

	// Background jobs; each runs on one node at a time (jobs.Runner leases).
	jobList := []jobs.Job{{Name: "purge-sessions", Interval: time.Hour, Run: accounts.PurgeExpiredSessions}}
	if job, ok := mail.PurgeJob(db, cfg.OutboxRetention, nil); ok {
		jobList = append(jobList, job)
	}
	if cfg.SMTPURL != "" {
		sender := &mail.Sender{DB: db, SMTPURL: cfg.SMTPURL, From: cfg.MailFrom, Log: log}
		jobList = append(jobList, sender.Job(cfg.MailInterval))
	}
	jobList = append(jobList,
		lic.RetentionJob(time.Hour),
		jobs.Job{Name: idp.JobName, Interval: time.Minute, Run: func(ctx context.Context) error { return idpSvc.RecheckDue(ctx, time.Now()) }},
		samlSvc.PurgeJob(),
		ssoSvc.TestPurgeJob(),
		lic.InactivityJob(time.Hour),
		upd.MirrorJob(30*time.Second),
	)
	host, _ := os.Hostname()
	return &App{Config: cfg, Log: log, DB: db, Registry: reg,
		Accounts: accounts, License: lic, IdP: idpSvc, SCIM: scimSvc, SSO: ssoSvc, SSOEffects: effects,
		Web: srv, Vendor: vendor, Updates: upd, Portal: portalSvc, Client: client, Fleet: fleetSvc,
		Background: []func(context.Context){fleetSvc.RunFlusher},
		Jobs:       &jobs.Runner{DB: db, Holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), ids.Secret(6)), Log: log, Jobs: jobList},
		handler:    srv.Handler(),
		// /metrics is served on Config.MetricsAddr only, never publicly.
		metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})}, nil
}

// Handler is the node's HTTP handler.
func (a *App) Handler() http.Handler { return a.handler }

// Close releases the database.
func (a *App) Close() error { return a.DB.Close() }

// Serve listens on the configured address until ctx ends, then shuts down
// gracefully: the listener closes, in-flight requests finish (up to
// ShutdownTimeout), background jobs stop.
func (a *App) Serve(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Config.Addr, err)
	}
	return a.ServeListener(ctx, ln, ready)
}

// ServeListener is Serve on an existing listener (tests use :0).
func (a *App) ServeListener(ctx context.Context, ln net.Listener, ready func(addr string)) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	var metricsSrv *http.Server
	if a.Config.MetricsAddr != "" {
		mln, err := net.Listen("tcp", a.Config.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics: listen on %s: %w", a.Config.MetricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.metrics)
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, ErrorLog: srv.ErrorLog}
		go func() {
			if err := metricsSrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				a.Log.Error("metrics listener stopped", "err", err)
			}
		}()
		a.Log.Info("metrics", "url", "http://"+mln.Addr().String()+"/metrics")
		defer metricsSrv.Close()
	}
	jobCtx, stopJobs := context.WithCancel(ctx)
	defer stopJobs()
	a.Jobs.Start(jobCtx)
	bgCtx, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	var background sync.WaitGroup
	for _, run := range a.Background {
		background.Add(1)
		go func() { defer background.Done(); run(bgCtx) }()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.Log.Info("shutting down: finishing in-flight requests", "timeout", a.Config.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownTimeout)
	defer cancel()
	stopJobs()
	err := srv.Shutdown(sctx)
	// After the last request: background work (the fleet's last-seen
	// buffer) finishes with what those requests left.
	stopBackground()
	background.Wait()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
