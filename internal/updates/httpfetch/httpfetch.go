// Package httpfetch is the HTTP side of mirroring: it downloads a release
// file for updates.Service (which, as a domain package, does not speak HTTP).
package httpfetch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// New returns a fetcher using client (nil: a client with a 30-minute
// timeout; installers are large).
func New(client *http.Client) func(ctx context.Context, url string) (io.ReadCloser, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Minute}
	}
	return func(ctx context.Context, url string) (io.ReadCloser, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", url, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", url, err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("fetch %s: the server answered %s", url, resp.Status)
		}
		return resp.Body, nil
	}
}
