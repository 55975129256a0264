// Package app wires configuration, storage, services, background jobs and the
// HTTP server into one running Gatehouse node.
package app

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gatehouse/internal/mail"
	"gatehouse/internal/ratelimit"
	"gatehouse/internal/scim"
)

// Config is everything `gatehouse serve` can be told. Each flag can also be
// set as GATEHOUSE_<NAME> (upper case, dashes as underscores).
type Config struct {
	Addr        string
	DataDir     string
	DatabaseURL string
	PublicURL   string
	LogFormat   string
	LogLevel    string
	Demo        bool
	TrustProxy  bool
	SMTPURL     string
	MailFrom    string
	// MailInterval is how often the outbox is checked for mail to deliver.
	MailInterval time.Duration
	// OutboxRetention is how long delivered mail stays in the outbox (0:
	// forever).
	OutboxRetention time.Duration
	// MetricsAddr is the separate listener for /metrics ("": none). The
	// public listener does not serve it: request counts per route and pool
	// figures are the operator's, not every visitor's.
	MetricsAddr string
	DNSServer   string
	// ShutdownTimeout bounds how long in-flight requests may take to finish.
	ShutdownTimeout time.Duration
	// DownloadURL is the Desktop installer /download redirects to ("": a
	// page explaining the installation).
	DownloadURL string
	// ReleaseBusinessDelay promotes published releases to the business
	// channel after this long (0: only when the operator promotes them).
	ReleaseBusinessDelay time.Duration
	// MDMSigningCert and MDMSigningKey (PEM files) sign .mobileconfig
	// downloads (CMS); unset: profiles are unsigned.
	MDMSigningCert string
	MDMSigningKey  string
	// SCIMRateLimit is --scim-rate-limit as given; Normalize parses it into
	// SCIMRate.
	SCIMRateLimit string
	SCIMRate      ratelimit.Rate
}

// Flags registers the serve flags on fs, with defaults taken from the
// environment, and returns the config they fill.
func Flags(fs *flag.FlagSet) *Config {
	c := &Config{}
	fs.StringVar(&c.Addr, "addr", Env("addr", "127.0.0.1:8080"), "listen address (host:port)")
	fs.StringVar(&c.DataDir, "data-dir", Env("data-dir", "data"), "directory for the SQLite database and other local state")
	fs.StringVar(&c.DatabaseURL, "database-url", Env("database-url", ""), "sqlite:///path/to/db or postgres://user@host/db (default: sqlite in --data-dir)")
	fs.StringVar(&c.PublicURL, "public-url", Env("public-url", ""), "URL people and IdPs reach this service at; used for SAML entity IDs, SCIM base URL and links (default: http://<addr>)")
	fs.StringVar(&c.LogFormat, "log-format", Env("log-format", "text"), "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", Env("log-level", "info"), "log level: debug, info, warn, error")
	fs.BoolVar(&c.Demo, "demo", EnvBool("demo"), "seed a demo admin and business account and print the credentials")
	fs.BoolVar(&c.TrustProxy, "trust-proxy", EnvBool("trust-proxy"), "take the client address from X-Forwarded-For (behind a load balancer)")
	fs.StringVar(&c.SMTPURL, "smtp-url", Env("smtp-url", ""), "deliver email through this server, e.g. smtp://user:pass@mail.example.com:587 (default: keep email in the outbox)")
	fs.StringVar(&c.MailFrom, "mail-from", Env("mail-from", "Gatehouse <no-reply@gatehouse.invalid>"), "sender address of outgoing email")
	fs.DurationVar(&c.MailInterval, "mail-interval", EnvDuration("mail-interval", 5*time.Second), "how often queued email is delivered (with --smtp-url)")
	fs.DurationVar(&c.OutboxRetention, "outbox-retention", EnvDuration("outbox-retention", mail.DefaultRetention), "delete delivered email from the outbox after this long (0: keep it)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", Env("metrics-addr", "127.0.0.1:9090"), "serve Prometheus /metrics on this separate address (\"\": not at all); keep it private")
	fs.StringVar(&c.DNSServer, "dns-server", Env("dns-server", ""), "DNS server (host:port) for domain verification (default: the system resolver)")
	fs.StringVar(&c.DownloadURL, "download-url", Env("download-url", ""), "Desktop installer that /download redirects to, with experience= and code= added (default: a page explaining the installation)")
	fs.DurationVar(&c.ReleaseBusinessDelay, "release-business-delay", EnvDuration("release-business-delay", 0), "promote published releases to the business update channel after this long, e.g. 168h (default: only when the operator promotes them)")
	fs.StringVar(&c.MDMSigningCert, "mdm-signing-cert", Env("mdm-signing-cert", ""), "PEM certificate (chain) that signs .mobileconfig profiles (with --mdm-signing-key; default: unsigned)")
	fs.StringVar(&c.MDMSigningKey, "mdm-signing-key", Env("mdm-signing-key", ""), "PEM private key of --mdm-signing-cert")
	fs.StringVar(&c.SCIMRateLimit, "scim-rate-limit", Env("scim-rate-limit", scim.DefaultRateLimit.String()), "requests per SCIM token, shared by all nodes: RATE/UNIT,BURST (a burst spent at once, refilled at RATE per s, m or h), or off")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", EnvDuration("shutdown-timeout", 20*time.Second), "how long in-flight requests may take to finish on shutdown")
	return c
}

// Normalize fills derived defaults and checks the values.
func (c *Config) Normalize() error {
	if c.DatabaseURL == "" {
		abs, err := filepath.Abs(filepath.Join(c.DataDir, "gatehouse.db"))
		if err != nil {
			return err
		}
		c.DatabaseURL = "sqlite://" + abs
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		return fmt.Errorf("--public-url must start with http:// or https://, got %q", c.PublicURL)
	}
	if c.DownloadURL != "" && !strings.HasPrefix(c.DownloadURL, "https://") && !strings.HasPrefix(c.DownloadURL, "http://") {
		return fmt.Errorf("--download-url must start with https:// or http://, got %q", c.DownloadURL)
	}
	if c.ReleaseBusinessDelay < 0 {
		return fmt.Errorf("--release-business-delay must not be negative")
	}
	if (c.MDMSigningCert == "") != (c.MDMSigningKey == "") {
		return fmt.Errorf("--mdm-signing-cert and --mdm-signing-key go together")
	}
	if c.SCIMRateLimit == "" {
		c.SCIMRate = scim.DefaultRateLimit
	} else {
		r, err := ratelimit.ParseRate(c.SCIMRateLimit)
		if err != nil {
			return fmt.Errorf("--scim-rate-limit: %w", err)
		}
		c.SCIMRate = r
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format must be text or json, got %q", c.LogFormat)
	}
	return nil
}

// Env returns GATEHOUSE_<NAME> or def.
func Env(name, def string) string {
	if v, ok := os.LookupEnv(EnvName(name)); ok {
		return v
	}
	return def
}

// EnvBool reads a boolean environment setting (1, true, yes).
func EnvBool(name string) bool {
	switch strings.ToLower(Env(name, "")) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// EnvDuration reads a duration environment setting.
func EnvDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(Env(name, "")); err == nil {
		return d
	}
	return def
}

// EnvName maps a flag name to its environment variable.
func EnvName(flagName string) string {
	return "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}
