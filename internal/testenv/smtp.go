package testenv

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPSink is an in-process SMTP server that keeps every message delivered to
// it. It accepts any sender, any recipient and any AUTH PLAIN credentials,
// without TLS.
type SMTPSink struct {
	Addr string // host:port
	URL  string // smtp://127.0.0.1:port

	mu       sync.Mutex
	messages []Email
	failNext int
	failed   int
}

// Email is one delivered message, parsed.
type Email struct {
	From    string   // envelope sender (MAIL FROM)
	To      []string // envelope recipients (RCPT TO)
	Subject string   // decoded Subject header
	Text    string   // the text/plain body (decoded)
	HTML    string   // the text/html body (decoded)
	Raw     []byte   // the message as received
	Header  mail.Header
}

// SMTP starts a sink on a free loopback port, closed at cleanup.
func SMTP(t testing.TB) *SMTPSink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtp sink: %v", err)
	}
	s := &SMTPSink{Addr: l.Addr().String()}
	s.URL = "smtp://" + s.Addr
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: s}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = 32 << 20
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return s
}

// Messages returns the messages delivered so far, oldest first.
func (s *SMTPSink) Messages() []Email {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Email(nil), s.messages...)
}

// FailNext makes the next n deliveries fail with a 451 temporary error
// (after the client sent the message), to test retries.
func (s *SMTPSink) FailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

// Failed returns how many deliveries FailNext has refused so far.
func (s *SMTPSink) Failed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// WaitFor polls until a delivered message matches, and returns it; on timeout
// it fails the test, listing what did arrive.
func (s *SMTPSink) WaitFor(t testing.TB, match func(Email) bool, timeout time.Duration) Email {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msgs := s.Messages()
		for _, m := range msgs {
			if match(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for i, m := range msgs {
				fmt.Fprintf(&b, "\n  %d. from %s to %s: %q", i+1, m.From, strings.Join(m.To, ", "), m.Subject)
			}
			if len(msgs) == 0 {
				b.WriteString(" none")
			}
			t.Fatalf("smtp sink: no matching message within %s; %d arrived:%s", timeout, len(msgs), b.String())
			return Email{}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type sinkSession struct {
	sink *SMTPSink
	from string
	to   []string
}

func (ss *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *sinkSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error { return nil }), nil
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	ss.to = nil
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s := ss.sink
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failNext > 0 {
		s.failNext--
		s.failed++
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure (testenv FailNext)"}
	}
	s.messages = append(s.messages, parseEmail(ss.from, append([]string(nil), ss.to...), raw))
	return nil
}

func (ss *sinkSession) Reset() {
	ss.from = ""
	ss.to = nil
}

func (ss *sinkSession) Logout() error { return nil }

// parseEmail reads the headers and the text and HTML bodies of a message. A
// message it cannot parse is still kept (Raw), with what could be read.
func parseEmail(from string, to []string, raw []byte) Email {
	e := Email{From: from, To: to, Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return e
	}
	e.Header = msg.Header
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		e.Subject = subj
	} else {
		e.Subject = msg.Header.Get("Subject")
	}
	walkPart(&e, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Header.Get("Content-Disposition"), msg.Body, 0)
	return e
}

func walkPart(e *Email, contentType, encoding, disposition string, body io.Reader, depth int) {
	if depth > 10 {
		return
	}
	if contentType == "" {
		contentType = "text/plain; charset=utf-8"
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			walkPart(e, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p, depth+1)
		}
	}
	if d, _, err := mime.ParseMediaType(disposition); err == nil && d == "attachment" {
		return
	}
	if mediaType != "text/plain" && mediaType != "text/html" {
		return
	}
	text, err := decodeBody(encoding, body)
	if err != nil {
		return
	}
	switch {
	case mediaType == "text/plain" && e.Text == "":
		e.Text = text
	case mediaType == "text/html" && e.HTML == "":
		e.HTML = text
	}
}

func decodeBody(encoding string, body io.Reader) (string, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	case "", "7bit", "8bit", "binary":
	default:
		return "", errors.New("unknown transfer encoding " + encoding)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}
