package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"gatehouse/internal/account"
	"gatehouse/internal/apptest"
	"gatehouse/internal/testenv"
)

// tryoutSteps is the README's try-out, command by command: what each
// command must look like, and what the person does in the browser after it
// (as the README's prose says). When the README changes its commands, this
// list changes with it; the commands themselves are run as written.
var tryoutSteps = []struct {
	pattern string // the command, as a regexp
	server  bool   // keeps running (its own terminal)
}{
	{`^go run ./cmd/gatehouse serve --demo --dns-server 127\.0\.0\.1:5353$`, true},
	{`^go run ./cmd/gatehouse setup-link$`, false},
	{`^go run ./cmd/gatehouse vendor issue --edition business --model per-device --seats 10 --term 1y$`, false},
	{`^go run ./cmd/gatehouse agent activate --code <code from the invitation> --dir /tmp/mac1$`, false},
	{`^go run ./cmd/gatehouse agent check --dir /tmp/mac1$`, false},
	{`^go run ./cmd/gatehouse devidp --addr 127\.0\.0\.1:8090$`, true},
	{`^dnsmasq --no-daemon .*--port 5353 --listen-address=127\.0\.0\.1 --bind-interfaces --no-resolv --txt-record=NAME,VALUE$`, true},
	{`^curl -o devidp-metadata\.xml http://127\.0\.0\.1:8090/metadata$`, false},
	{`^go run ./cmd/gatehouse agent activate --sso grace@example\.com --dir /tmp/mac2$`, true},
}

// TestREADMETryOut follows the README's try-out literally: the commands
// come out of README.md through scripts/readme-tryout and run in a shell as
// written, with the built binary for `go run ./cmd/gatehouse`, a real
// dnsmasq and curl, and the development IdP; what the README tells the
// person to do in the browser is done over real HTTP with the forms' own
// fields. Only what cannot be literal is replaced: the fixed ports (free
// ones, so parallel tests do not collide; the server's through
// GATEHOUSE_ADDR and GATEHOUSE_SERVER, as a person could set them), /tmp/
// (the test's own directory) and the README's placeholders (the invitation
// code, the TXT record), which the test reads where the README says.
func TestREADMETryOut(t *testing.T) {
	root := testenv.RepoRoot()
	dnsmasq := lookPath("dnsmasq", "/usr/sbin/dnsmasq")
	curl := lookPath("curl", "/usr/bin/curl")
	if dnsmasq == "" || curl == "" {
		if testenv.RequirePeers() {
			t.Fatalf("dnsmasq (%q) and curl (%q) are needed (scripts/install-deps)", dnsmasq, curl)
		}
		t.Skip("dnsmasq or curl missing (scripts/install-deps installs them)")
	}
	out, err := exec.Command(filepath.Join(root, "scripts", "readme-tryout"), filepath.Join(root, "README.md")).Output()
	if err != nil {
		t.Fatalf("scripts/readme-tryout: %v", err)
	}
	cmds := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(cmds) != len(tryoutSteps) {
		t.Fatalf("the README's try-out has %d commands, the test knows %d:\n%s", len(cmds), len(tryoutSteps), out)
	}
	for i, c := range cmds {
		if !regexp.MustCompile(tryoutSteps[i].pattern).MatchString(c) {
			t.Fatalf("try-out command %d is %q; the test expects %s", i+1, c, tryoutSteps[i].pattern)
		}
	}

	work := t.TempDir()
	bin := filepath.Join(work, "gatehouse-bin")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	if err := os.MkdirAll(filepath.Join(work, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	gh := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	idpAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dnsPort := strconv.Itoa(freeTCPAndUDPPort(t))
	sh := &shell{t: t, dir: work, env: tryoutEnv(gh)}
	sh.substitute("go run ./cmd/gatehouse", bin)
	sh.substitute("127.0.0.1:8090", idpAddr)
	sh.substitute("127.0.0.1:5353", "127.0.0.1:"+dnsPort)
	sh.substitute("--port 5353", "--port "+dnsPort)
	sh.substitute(" /tmp/", " "+work+"/tmp/")
	base := "http://" + gh

	// serve --demo: the demo sign-in, the trial, the setup link, the outbox.
	serve := sh.start(cmds[0])
	serve.waitFor("is running at", 60*time.Second)
	for _, want := range []string{account.DemoEmail + " / " + account.DemoPassword, "Enterprise Edition trial, 25 seats", "/setup/", "/operator/outbox"} {
		apptest.MustContain(t, serve.out.String(), want)
	}

	// setup-link prints a fresh link; the person creates the operator.
	link := regexp.MustCompile(`http://\S+/setup/\S+`).FindString(sh.run(cmds[1], 0))
	operator := apptest.NewClient(t, base)
	operator.Post(link, url.Values{"email": {"operator@example.net"}, "display_name": {"Operator"}, "password": {"long-quiet-river-26"},
		"password_confirm": {"long-quiet-river-26"}}).Expect(t, http.StatusSeeOther)
	if !operator.Get("/operator/outbox").Has("h1") {
		t.Fatal("the operator cannot open the outbox")
	}

	// Journey 1. The vendor issues a key; the demo admin registers it,
	// creates the sublicense Design and invites a user.
	key := regexp.MustCompile(`[A-Z0-9]{6}(-[A-Z0-9]{6}){4}`).FindString(sh.run(cmds[2], 0))
	if key == "" {
		t.Fatal("vendor issue printed no key")
	}
	admin := apptest.NewClient(t, base)
	r := admin.SignIn(account.DemoEmail, account.DemoPassword).Expect(t, http.StatusSeeOther)
	acct := strings.TrimPrefix(admin.Follow(r.Location).URL, base+"/accounts/")
	if !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(acct) {
		t.Fatalf("the demo admin did not land on the account dashboard: %s", acct)
	}
	// The trial made the configurator reachable at once.
	if admin.Get("/accounts/"+acct+"/idp").Has(`input[name="provider"]`) == false {
		t.Fatal("IdP Integration is not available to the demo account")
	}
	list := admin.Get("/accounts/" + acct + "/licenses")
	if !list.Has(`a.button[href$="/licenses/register"]`) {
		t.Fatal("no Register Key button on Licenses")
	}
	r = admin.Post("/accounts/"+acct+"/licenses/register", url.Values{"key": {key}}).Expect(t, http.StatusSeeOther)
	subPath := r.Location
	if i := strings.IndexAny(subPath, "?#"); i >= 0 {
		subPath = subPath[:i]
	}
	admin.Post(subPath+"/keys", url.Values{"key_name": {"Design"}, "kind": {"reserved"}, "seats": {"5"}}).Expect(t, http.StatusSeeOther)
	design := ""
	admin.Get(subPath).Doc.Find("table.keys tbody tr").Each(func(_ int, s *goquery.Selection) {
		if strings.TrimSpace(s.Find("td").First().Text()) == "Design" {
			design = strings.TrimPrefix(s.AttrOr("id", ""), "key-")
		}
	})
	if design == "" {
		t.Fatal("no Design key")
	}
	review := multipartPost(t, admin, subPath+"/invite", url.Values{"key": {design}, "language": {"en"}, "expires": {"7"}, "emails": {"mac.user@example.org"}})
	send := review.Doc.Find(`form[action$="/invite/send"]`)
	form := url.Values{}
	send.Find(`input[type=hidden]`).Each(func(_ int, s *goquery.Selection) { form.Add(s.AttrOr("name", ""), s.AttrOr("value", "")) })
	admin.PostRaw(send.AttrOr("action", ""), form).Expect(t, http.StatusSeeOther)
	// The operator finds the email, with its code, in the outbox.
	code := regexp.MustCompile(`[A-Z2-9]{5}(-[A-Z2-9]{5}){3}`).FindString(operator.Get("/operator/outbox").Text("tbody"))
	if code == "" {
		t.Fatal("no activation code in the operator's outbox")
	}
	sh.substitute("<code from the invitation>", code)
	apptest.MustContain(t, sh.run(cmds[3], 0), "activated")
	// The admin deactivates the Mac under Registered Computers.
	computers := admin.Get(subPath + "/computers")
	id := computers.Doc.Find(`input[name="computer"]`).First().AttrOr("value", "")
	if id == "" {
		t.Fatal("the Mac is not listed under Registered Computers")
	}
	admin.Post(subPath+"/computers/deactivate", url.Values{"computer": {id}, "confirm": {"1"}}).Expect(t, http.StatusSeeOther)
	apptest.MustContain(t, sh.run(cmds[4], 1), "deactivated")

	// Journey 2. The development IdP.
	sh.start(cmds[5])
	waitHTTP(t, "http://"+idpAddr+"/metadata")
	idpBase := "/accounts/" + acct + "/idp"
	admin.Post(idpBase+"/start", url.Values{"provider": {"other"}}).Expect(t, http.StatusSeeOther)
	admin.Post(idpBase+"/domains", url.Values{"domain": {"example.com"}}).Expect(t, http.StatusSeeOther)
	page := admin.Get(idpBase)
	name, value := page.Text(`tr[data-domain="example.com"] .txt-name`), page.Text(`tr[data-domain="example.com"] .txt-value`)
	if name == "" || value == "" {
		t.Fatal("step 1 shows no TXT record")
	}
	sh.substitute("NAME,VALUE", name+","+value)
	sh.start(cmds[6])
	waitTXT(t, "127.0.0.1:"+dnsPort, name, value)
	verify := page.Doc.Find(`tr[data-domain="example.com"] form[action$="/verify"]`).AttrOr("action", "")
	admin.Post(verify, nil).Expect(t, http.StatusSeeOther)
	if got := admin.Get(idpBase).Text(`tr[data-domain="example.com"] .domain-status .badge`); got != "Verified" {
		t.Fatalf("example.com is %q after Verify", got)
	}
	admin.Post(idpBase+"/steps/2", url.Values{"done": {"1"}}).Expect(t, http.StatusSeeOther)
	admin.Post(idpBase+"/groups/admins", url.Values{"admins_name": {"Admins"}, "admins_uuid": {"Admins"}}).Expect(t, http.StatusSeeOther)
	admin.Post(idpBase+"/groups/users", url.Values{"users_name": {"Desktop Users"}, "users_uuid": {"Desktop Users"}}).Expect(t, http.StatusSeeOther)
	sh.run(cmds[7], 0)
	metadata, err := os.ReadFile(filepath.Join(work, "devidp-metadata.xml"))
	if err != nil {
		t.Fatal(err)
	}
	r = multipartFile(t, admin, idpBase+"/saml/metadata", "metadata", "devidp-metadata.xml", metadata)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("upload metadata: %d %s", r.Status, r.Text("#e-metadata"))
	}
	admin.Post(idpBase+"/steps/4", url.Values{"done": {"1"}}).Expect(t, http.StatusSeeOther)
	admin.Post(idpBase+"/scim", url.Values{}).Expect(t, http.StatusSeeOther)
	admin.Post(idpBase+"/steps/6", url.Values{"done": {"1"}}).Expect(t, http.StatusSeeOther)
	page = admin.Get(idpBase)
	backup := page.Doc.Find(`#f-backup option`).FilterFunction(func(_ int, s *goquery.Selection) bool {
		return strings.Contains(s.Text(), account.DemoEmail)
	}).AttrOr("value", "")
	admin.Post(idpBase+"/backup", url.Values{"backup": {backup}}).Expect(t, http.StatusSeeOther)
	r = admin.Post(idpBase+"/activate", nil)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("activate: %d %s", r.Status, r.Text(".flash"))
	}

	// Ada signs in with SSO and is an admin.
	ada := apptest.NewClient(t, base)
	dash := ssoSignIn(t, ada, base, "/sso", url.Values{"email": {"ada@example.com"}}, "ada@example.com")
	apptest.MustContain(t, dash.Text(".flash"), "Signed in with single sign-on as ada@example.com")
	apptest.MustContain(t, dash.Text("nav.side .acct small"), "Admin")

	// Grace activates Desktop with SSO: the agent prints the address and
	// waits; she opens it and picks herself at the IdP.
	agentSSO := sh.start(cmds[8])
	agentSSO.waitFor("Waiting for the sign-in", 60*time.Second)
	addr := regexp.MustCompile(`http://\S+/sso/desktop/\S+`).FindString(agentSSO.out.String())
	grace := apptest.NewClient(t, base)
	done := ssoSignIn(t, grace, base, addr, nil, "grace@example.com")
	apptest.MustContain(t, done.Text("h1"), "Desktop is activated")
	apptest.MustContain(t, done.Text("#sso-organization"), "Demo Corporation")
	if err := agentSSO.wait(60 * time.Second); err != nil {
		t.Fatalf("agent activate --sso: %v\n%s", err, agentSSO.out.String())
	}
	apptest.MustContain(t, agentSSO.out.String(), "activated for grace@example.com with SSO")
	// Grace's dashboard lists the Mac; admins see her seat.
	graceDash := ssoSignIn(t, apptest.NewClient(t, base), base, "/sso", url.Values{"email": {"grace@example.com"}}, "grace@example.com")
	if !graceDash.Has("#my-desktop li") {
		t.Fatalf("Grace's dashboard lists no Mac:\n%s", graceDash.Text("main"))
	}
	apptest.MustContain(t, ada.Get("/accounts/"+acct+"/users/licensed").Text("table.seats"), "grace@example.com")

	// No secret handed out along journeys 1 and 2 reaches the server's log
	// (issue 12 item 3): the setup link, the license key, the activation
	// code, the SSO activation attempt, every browser's cookies (session,
	// SSO binding, CSRF) and both Macs' device credentials.
	secrets := map[string]string{"setup link": link[strings.LastIndex(link, "/")+1:], "license key": key,
		"activation code": code, "SSO attempt": addr[strings.LastIndex(addr, "/")+1:]}
	u, _ := url.Parse(base)
	for who, c := range map[string]*apptest.Client{"admin": admin, "operator": operator, "ada": ada, "grace": grace} {
		for _, ck := range c.HTTP.Jar.Cookies(u) {
			if len(ck.Value) >= 16 {
				secrets[who+"'s cookie "+ck.Name] = ck.Value
			}
		}
	}
	for _, mac := range []string{"mac1", "mac2"} {
		b, err := os.ReadFile(filepath.Join(work, "tmp", mac, "state.json"))
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ Credential string }
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if st.Credential != "" {
			secrets[mac+" device credential"] = st.Credential
		}
	}
	if _, ok := secrets["mac2 device credential"]; !ok {
		t.Fatal("the SSO-activated Mac holds no device credential")
	}
	serverLog := serve.out.String()
	apptest.MustContain(t, serverLog, "path=/setup/{token}")
	apptest.MustContain(t, serverLog, "path=/sso/desktop/{attempt}")
	for name, secret := range secrets {
		if strings.Contains(serverLog, secret) {
			t.Errorf("the server's log holds the %s", name)
		}
	}
}

// shell runs README commands with bash in the try-out's directory, after
// the substitutions the test documents.
type shell struct {
	t     *testing.T
	dir   string
	env   []string
	pairs []string
}

func (s *shell) substitute(old, new string) { s.pairs = append(s.pairs, old, new) }

func (s *shell) command(line string) *exec.Cmd {
	cmd := exec.Command("bash", "-c", strings.NewReplacer(s.pairs...).Replace(line))
	cmd.Dir, cmd.Env = s.dir, s.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// run runs a command to its end and returns its output; it must exit with
// status want.
func (s *shell) run(line string, want int) string {
	s.t.Helper()
	cmd := s.command(line)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("%s: %v", line, err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	err := cmd.Wait()
	timer.Stop()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("%s: %v", line, err)
	}
	if code != want {
		s.t.Fatalf("%s: exit status %d, want %d\n%s", line, code, want, out.String())
	}
	s.t.Logf("$ %s\n%s", line, out.String())
	return out.String()
}

type bgProc struct {
	t    *testing.T
	line string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

// start runs a command that keeps running; it is stopped when the test ends.
func (s *shell) start(line string) *bgProc {
	s.t.Helper()
	p := &bgProc{t: s.t, line: line, cmd: s.command(line), out: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		s.t.Fatalf("%s: %v", line, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	s.t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
		if s.t.Failed() {
			s.t.Logf("$ %s\n%s", line, p.out.String())
		}
	})
	return p
}

// waitFor waits until the command printed text (or ended, or timed out).
func (p *bgProc) waitFor(text string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(p.out.String(), text) {
		select {
		case err := <-p.done:
			p.done <- err
			p.t.Fatalf("%s ended (%v) before printing %q:\n%s", p.line, err, text, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s did not print %q within %s:\n%s", p.line, text, timeout, p.out.String())
		}
	}
}

func (p *bgProc) wait(timeout time.Duration) error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(timeout):
		return fmt.Errorf("still running after %s", timeout)
	}
}

// tryoutEnv is the environment of the commands: this process's, without
// Gatehouse settings that would change what the README's commands do, plus
// the server's address (the README's default port may be taken here).
func tryoutEnv(addr string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") || strings.HasPrefix(kv, "GATEHOUSE_ARTIFACTS=") {
			env = append(env, kv)
		}
	}
	return append(env, "GATEHOUSE_ADDR="+addr, "GATEHOUSE_SERVER=http://"+addr, "PATH="+os.Getenv("PATH")+":/usr/sbin:/sbin")
}

// freeTCPAndUDPPort finds a loopback port free for both TCP and UDP (DNS
// listens on both; UDP ports of the ephemeral range are often taken).
func freeTCPAndUDPPort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

func lookPath(name, fallback string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	return ""
}

func waitHTTP(t *testing.T, u string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer: %v", u, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitTXT waits until the DNS server at addr serves the record.
func waitTXT(t *testing.T, addr, name, value string) {
	t.Helper()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		got, err := r.LookupTXT(ctx, name)
		cancel()
		for _, g := range got {
			if g == value {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("dnsmasq does not serve %s: %v %q", name, err, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ssoSignIn starts at start (the "Continue with SSO" form, or the address
// the agent printed), picks email on the development IdP's page and posts
// its answer to Gatehouse, like a browser; it returns the page Gatehouse
// shows at the end.
func ssoSignIn(t *testing.T, c *apptest.Client, base, start string, form url.Values, email string) *apptest.Response {
	t.Helper()
	var r *apptest.Response
	if form != nil {
		r = c.Post(start, form)
	} else {
		r = c.Get(start)
	}
	// A form start answers with a hand-over page (CSP form-action keeps
	// form posts on this site) whose link and Refresh lead to the IdP; a
	// GET start (Desktop) redirects.
	next := r.Location
	switch {
	case r.Status == http.StatusSeeOther:
	case form != nil && r.Status == http.StatusOK:
		next = r.Doc.Find("#continue-to-idp").AttrOr("href", "")
		if next == "" || r.Header.Get("Refresh") != "0; url="+next {
			t.Fatalf("%s: no hand-over to the IdP: %s", start, r.Text("main"))
		}
	default:
		t.Fatalf("%s: status %d: %s", start, r.Status, r.Text("main"))
	}
	idpPage := c.Get(next).Expect(t, http.StatusOK)
	pick := idpPage.Doc.Find("form")
	fields := url.Values{}
	pick.Find(`input[type=hidden]`).Each(func(_ int, s *goquery.Selection) { fields.Set(s.AttrOr("name", ""), s.AttrOr("value", "")) })
	pick.Find(`button[name=user]`).Each(func(_ int, s *goquery.Selection) {
		if strings.Contains(s.Text(), email) {
			fields.Set("user", s.AttrOr("value", ""))
		}
	})
	if fields.Get("user") == "" {
		t.Fatalf("%s is not on the development IdP's page", email)
	}
	action, _ := url.Parse(next)
	post := c.PostRaw(action.ResolveReference(&url.URL{Path: pick.AttrOr("action", "")}).String(), fields).Expect(t, http.StatusOK)
	back := post.Doc.Find("form")
	answer := url.Values{}
	back.Find(`input[type=hidden]`).Each(func(_ int, s *goquery.Selection) { answer.Set(s.AttrOr("name", ""), s.AttrOr("value", "")) })
	r = c.PostRaw(back.AttrOr("action", ""), answer)
	if r.Status == http.StatusSeeOther {
		return c.Follow(r.Location)
	}
	return r
}

func multipartPost(t *testing.T, c *apptest.Client, path string, fields url.Values) *apptest.Response {
	t.Helper()
	return multipartBody(t, c, path, fields, "", "", nil)
}

func multipartFile(t *testing.T, c *apptest.Client, path, field, name string, content []byte) *apptest.Response {
	t.Helper()
	return multipartBody(t, c, path, url.Values{}, field, name, content)
}

func multipartBody(t *testing.T, c *apptest.Client, path string, fields url.Values, fileField, fileName string, content []byte) *apptest.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf_token", c.CSRF())
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if fileField != "" {
		fw, err := mw.CreateFormFile(fileField, fileName)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(content)
	}
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, c.Base+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	doc, _ := goquery.NewDocumentFromReader(bytes.NewReader(b))
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Doc: doc, Location: resp.Header.Get("Location"), URL: req.URL.String()}
}
