package testenv

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium.
func chromiumPath() string {
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// Browser starts a headless Chromium with a fresh profile and returns a
// chromedp context on its first tab; the browser is started already, so the
// caller may derive contexts with timeouts from it. It is closed at cleanup;
// when the test failed, a full-page screenshot and the page's HTML are saved
// first to $GATEHOUSE_ARTIFACTS (default <repo>/test-artifacts) under the
// test's name.
func Browser(t testing.TB) context.Context {
	t.Helper()
	exe := chromiumPath()
	if exe == "" {
		peerMissing(t, "chromium not found (Debian package chromium; run scripts/install-deps)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(func(string, ...any) {}))
	cancel := func() {
		cancelCtx()
		cancelAlloc()
	}

	// Start the browser now, with no deadline on the context (it would bind
	// the browser's life), but give up if it hangs.
	started := make(chan struct{})
	timedOut := make(chan struct{})
	go func() {
		select {
		case <-started:
		case <-time.After(90 * time.Second):
			close(timedOut)
			cancel()
		}
	}()
	err := chromedp.Do(ctx)
	close(started)
	if err != nil {
		cancel()
		select {
		case <-timedOut:
			err = errors.New("chromium did not start within 90s")
		default:
		}
		t.Fatalf("start chromium (%s): %v", exe, err)
	}

	t.Cleanup(func() {
		if t.Failed() {
			saveBrowserArtifacts(t, ctx)
		}
		cancel()
	})
	return ctx
}

func saveBrowserArtifacts(t testing.TB, ctx context.Context) {
	dir := artifactsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("browser artifacts: %v", err)
		return
	}
	base := filepath.Join(dir, fileSafe(t.Name()))
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)); err != nil {
		t.Logf("browser screenshot: %v", err)
	} else if err := os.WriteFile(base+".png", png, 0o644); err != nil {
		t.Logf("browser screenshot: %v", err)
	} else {
		t.Logf("browser screenshot: %s.png", base)
	}
	url, _ := chromedp.Run(sctx, chromedp.Evaluate[string](`location.href`))
	if html, err := chromedp.Run(sctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`)); err == nil {
		_ = os.WriteFile(base+".html", []byte("<!-- "+url+" -->\n"+html), 0o644)
	}
}
