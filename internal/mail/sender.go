package mail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"gatehouse/internal/jobs"
	"gatehouse/internal/store"
)

// SenderJobName is the lease name of the delivery job.
const SenderJobName = "mail-sender"

// Sender delivers due outbox messages over SMTP. Run it as a jobs.Job (Job)
// so that one node delivers at a time. Without an SMTP URL it does nothing
// and messages stay in the outbox for the operator to read.
//
// A temporary failure (4xx, network) is retried with exponential back-off:
// Backoff, 2×Backoff, 4×… capped at MaxBackoff; after MaxAttempts attempts,
// or at once on a permanent refusal (5xx), the message is marked failed.
// Every failure records last_error. The row is never deleted, so whatever
// caused the message (an invitation) never loses it.
type Sender struct {
	DB *store.DB
	// SMTPURL: smtp://[user:pass@]host[:port] (port 25; STARTTLS when the
	// server offers it) or smtps://[user:pass@]host[:port] (port 465,
	// implicit TLS). Query options: tls=none|opportunistic|required.
	SMTPURL string
	From    string // "Gatehouse <no-reply@example.com>"
	Log     *slog.Logger

	MaxAttempts int           // default 8
	Backoff     time.Duration // default 1 minute
	MaxBackoff  time.Duration // default 6 hours
	Batch       int           // messages per run; default 100
	Timeout     time.Duration // per SMTP conversation; default 30 s
	Now         func() time.Time
}

// Job returns the delivery job for the jobs.Runner.
func (s *Sender) Job(interval time.Duration) jobs.Job {
	if interval <= 0 {
		interval = 15 * time.Second
	}
	return jobs.Job{Name: SenderJobName, Interval: interval, Run: s.RunOnce}
}

func (s *Sender) defaults() {
	if s.MaxAttempts <= 0 {
		s.MaxAttempts = 8
	}
	if s.Backoff <= 0 {
		s.Backoff = time.Minute
	}
	if s.MaxBackoff <= 0 {
		s.MaxBackoff = 6 * time.Hour
	}
	if s.Batch <= 0 {
		s.Batch = 100
	}
	if s.Timeout <= 0 {
		s.Timeout = 30 * time.Second
	}
	if s.Log == nil {
		s.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

type smtpConfig struct {
	host       string
	port       int
	user, pass string
	ssl        bool
	tls        gomail.TLSPolicy
	authNoEnc  bool
}

// parseSMTPURL reads the SMTP URL (never echoing its password in errors).
func parseSMTPURL(raw string) (*smtpConfig, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("smtp URL: cannot parse (want smtp://user:pass@host:port or smtps://…)")
	}
	c := &smtpConfig{host: u.Hostname(), tls: gomail.TLSOpportunistic}
	switch u.Scheme {
	case "smtp":
		c.port = 25
	case "smtps":
		c.port, c.ssl = 465, true
	default:
		return nil, fmt.Errorf("smtp URL: scheme %q (want smtp or smtps)", u.Scheme)
	}
	if c.host == "" {
		return nil, errors.New("smtp URL: no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("smtp URL: bad port %q", p)
		}
		c.port = n
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.pass, _ = u.User.Password()
	}
	switch strings.ToLower(u.Query().Get("tls")) {
	case "", "opportunistic", "starttls":
	case "none", "off":
		c.tls, c.authNoEnc = gomail.NoTLS, true
	case "required", "mandatory":
		c.tls = gomail.TLSMandatory
	default:
		return nil, fmt.Errorf("smtp URL: tls=%q (want none, opportunistic or required)", u.Query().Get("tls"))
	}
	return c, nil
}

func (s *Sender) client(c *smtpConfig) (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(c.port), gomail.WithTimeout(s.Timeout)}
	if c.ssl {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(c.tls))
	}
	if c.user != "" {
		// PLAIN refuses to send the password over an unencrypted connection
		// (except to localhost) unless the URL says tls=none explicitly.
		auth := gomail.SMTPAuthPlain
		if c.authNoEnc {
			auth = gomail.SMTPAuthPlainNoEnc
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(c.user), gomail.WithPassword(c.pass))
	}
	return gomail.NewClient(c.host, opts...)
}

type dueMessage struct {
	id, to, subject, text, html string
	attempts                    int
}

// RunOnce delivers the messages that are due. Without an SMTP URL it leaves
// them in the outbox.
func (s *Sender) RunOnce(ctx context.Context) error {
	s.defaults()
	if strings.TrimSpace(s.SMTPURL) == "" {
		return nil
	}
	cfg, err := parseSMTPURL(s.SMTPURL)
	if err != nil {
		return err
	}
	due, err := s.due(ctx)
	if err != nil || len(due) == 0 {
		return err
	}
	var c *gomail.Client
	defer func() {
		if c != nil {
			_ = c.Close()
		}
	}()
	for _, m := range due {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c == nil {
			if c, err = s.client(cfg); err != nil {
				return fmt.Errorf("smtp client: %w", err)
			}
			dctx, cancel := context.WithTimeout(ctx, s.Timeout)
			err = c.DialWithContext(dctx)
			cancel()
			if err != nil {
				c = nil
				if err := s.failed(ctx, m, fmt.Errorf("connect to %s:%d: %w", cfg.host, cfg.port, err), true); err != nil {
					return err
				}
				continue
			}
		}
		sendErr := s.send(c, m)
		if sendErr == nil {
			if err := s.sent(ctx, m); err != nil {
				return err
			}
			continue
		}
		// After a refusal the session may be in any state: start afresh.
		_ = c.Close()
		c = nil
		var se *gomail.SendError
		temp := !errors.As(sendErr, &se) || se.IsTemp()
		if err := s.failed(ctx, m, sendErr, temp); err != nil {
			return err
		}
	}
	return nil
}

func (s *Sender) due(ctx context.Context) ([]dueMessage, error) {
	out, err := store.QueryAll(ctx, s.DB, func(row store.Scanner) (dueMessage, error) {
		var m dueMessage
		if err := row.Scan(&m.id, &m.to, &m.subject, &m.text, &m.html, &m.attempts); err != nil {
			return m, err
		}
		return m, nil
	}, `SELECT id, to_addr, subject, body_text, body_html, attempts FROM outbox
		WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`, store.At(s.now()), s.Batch)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return out, nil
}

func (s *Sender) send(c *gomail.Client, m dueMessage) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.From); err != nil {
		return fmt.Errorf("sender address %q: %w", s.From, err)
	}
	if err := msg.To(m.to); err != nil {
		return &gomail.SendError{Reason: gomail.ErrSMTPRcptTo}
	}
	msg.Subject(m.subject)
	msg.SetDate()
	// A stable Message-ID lets receivers drop a duplicate if a delivery
	// was accepted but our bookkeeping failed.
	domain := "gatehouse.invalid"
	if at := strings.LastIndexByte(s.From, '@'); at >= 0 {
		domain = strings.Trim(s.From[at+1:], "> ")
	}
	msg.SetMessageIDWithValue(m.id + "@" + domain)
	msg.SetBodyString(gomail.TypeTextPlain, m.text)
	if m.html != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.html)
	}
	return c.Send(msg)
}

func (s *Sender) sent(ctx context.Context, m dueMessage) error {
	now := store.At(s.now())
	if _, err := s.DB.Exec(ctx, `UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = ''
		WHERE id = ? AND status = 'pending'`, now, m.id); err != nil {
		return fmt.Errorf("outbox: mark sent: %w", err)
	}
	s.Log.Info("email sent", "id", m.id, "to", m.to, "attempt", m.attempts+1)
	return nil
}

// failed records a failed attempt: retried later with back-off while
// temporary and below MaxAttempts, else marked failed.
func (s *Sender) failed(ctx context.Context, m dueMessage, cause error, temporary bool) error {
	attempts := m.attempts + 1
	status := "pending"
	if !temporary || attempts >= s.MaxAttempts {
		status = "failed"
	}
	delay := s.Backoff << min(attempts-1, 30)
	if delay <= 0 || delay > s.MaxBackoff {
		delay = s.MaxBackoff
	}
	msg := cause.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	if _, err := s.DB.Exec(ctx, `UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?
		WHERE id = ? AND status = 'pending'`, status, attempts, store.At(s.now().Add(delay)), msg, m.id); err != nil {
		return fmt.Errorf("outbox: record failure: %w", err)
	}
	s.Log.Warn("email not sent", "id", m.id, "to", m.to, "attempt", attempts, "status", status, "err", msg)
	return nil
}
