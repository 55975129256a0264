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
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"gatehouse/internal/account"
	"gatehouse/internal/clientapi"
	"gatehouse/internal/idp"
	"gatehouse/internal/ids"
	"gatehouse/internal/jobs"
	"gatehouse/internal/license"
	"gatehouse/internal/mail"
	"gatehouse/internal/portal"
	"gatehouse/internal/scim"
	"gatehouse/internal/sso"
	"gatehouse/internal/store"
	"gatehouse/internal/updates"
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
	// SSOEffects carries SCIM's effects on people; the SSO activation
	// feature adds its seat revocation to it.
	SSOEffects *sso.Effects
	Web        *web.Server
	// Vendor is the operator API; features mount their endpoints on it.
	Vendor *clientapi.VendorHandler
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

func wire(ctx context.Context, cfg Config, log *slog.Logger, db *store.DB) (*App, error) {
	cookieKey, err := store.EnsureSetting(ctx, db, "cookie_key", func() (string, error) { return ids.Secret(32), nil })
	if err != nil {
		return nil, err
	}
	key, err := base64.RawURLEncoding.DecodeString(cookieKey)
	if err != nil {
		return nil, fmt.Errorf("cookie key: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), newDBCollector(db))
	accounts := &account.Service{DB: db, Config: account.DefaultConfig(), PublicURL: cfg.PublicURL, Log: log}
	srv, err := web.New(web.Config{PublicURL: cfg.PublicURL, TrustProxy: cfg.TrustProxy, CookieKey: key, MailServer: cfg.SMTPURL != ""}, db, accounts, log, web.NewMetrics(reg))
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	a := &App{Config: cfg, Log: log, DB: db, Accounts: accounts, Web: srv, Registry: reg,
		Jobs: &jobs.Runner{DB: db, Holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), ids.Secret(6)), Log: log}}
	a.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	a.Jobs.Jobs = append(a.Jobs.Jobs, jobs.Job{Name: "purge-sessions", Interval: time.Hour, Run: accounts.PurgeExpiredSessions})
	if job, ok := mail.PurgeJob(db, cfg.OutboxRetention, nil); ok {
		a.Jobs.Jobs = append(a.Jobs.Jobs, job)
	}
	if cfg.SMTPURL != "" {
		sender := &mail.Sender{DB: db, SMTPURL: cfg.SMTPURL, From: cfg.MailFrom, Log: log}
		a.Jobs.Jobs = append(a.Jobs.Jobs, sender.Job(cfg.MailInterval))
	}
	for _, f := range features {
		if err := f(ctx, a); err != nil {
			return nil, err
		}
	}
	a.handler = srv.Handler()
	return a, nil
}

// Feature wires one feature (licensing, IdP, SCIM, …) into the app: its
// services, routes and jobs. Features register themselves in features.go.
type Feature func(ctx context.Context, a *App) error

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
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
