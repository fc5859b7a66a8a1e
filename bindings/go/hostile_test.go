package inferencekey_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/sdk/bindings/go"
)

// The same hostile-server cases as tests/reliability/test_sdk_limits.py (issue 19, findings
// 11, 12 and 17), through the C ABI: the logic is in the Rust core, so Go inherits it. No
// Manager needed; the servers listen on loopback.

const hostileKey = "ik_live_abcdefgh12_ssssssssssssssssssssssssssssssss"

func hostileServer(t *testing.T, host string, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func hostileEndpoint(t *testing.T, url string, read time.Duration) *inferencekey.Endpoint {
	t.Helper()
	zero := 0
	data, err := inferencekey.NewDataClient(inferencekey.DataOptions{
		BaseURL: url, Project: "p", APIKey: hostileKey, ReadTimeout: read, MaxRetries: &zero,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { data.Close() })
	ep, err := data.Endpoint("w")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

func wantCode(t *testing.T, err error, kind inferencekey.Kind, code string) *inferencekey.Error {
	t.Helper()
	var e *inferencekey.Error
	if !errors.As(err, &e) || e.Kind != kind || e.Code != code {
		t.Fatalf("want %s/%s, got %v", kind, code, err)
	}
	return e
}

func TestHugeAnswerIsRefused(t *testing.T) {
	chunk := []byte("[" + strings.Repeat("1,", 1<<19) + "1]")
	s := hostileServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		for i := 0; i < 300; i++ { // ~300 MiB, chunked
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	_, err := hostileEndpoint(t, s.URL, 0).GenerateText(context.Background(), inferencekey.TextRequest{Prompt: "x"})
	wantCode(t, err, inferencekey.KindProtocol, "response_too_large")
}

func TestNoRedirectToAnotherHost(t *testing.T) {
	var other atomic.Int32
	elsewhere := hostileServer(t, "127.0.0.2", func(w http.ResponseWriter, r *http.Request) {
		other.Add(1)
	})
	s := hostileServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	})
	_, err := hostileEndpoint(t, s.URL, 0).GenerateText(context.Background(), inferencekey.TextRequest{Prompt: "secret"})
	e := wantCode(t, err, inferencekey.KindProtocol, "redirect_refused")
	if e.Status != 307 || other.Load() != 0 {
		t.Fatalf("status %d, other host hit %d times", e.Status, other.Load())
	}
}

func TestDripHitsTheDefaultOverallDeadline(t *testing.T) {
	s := hostileServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-length", "1000")
		for i := 0; i < 1000; i++ {
			if _, err := fmt.Fprint(w, " "); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(500 * time.Millisecond)
		}
	})
	_, err := hostileEndpoint(t, s.URL, time.Second).GenerateText(context.Background(), inferencekey.TextRequest{Prompt: "x"})
	e := wantCode(t, err, inferencekey.KindTimeout, "timeout")
	if strings.Contains(e.Error(), "0ns") || !strings.Contains(e.Error(), "default total deadline") {
		t.Fatalf("unhelpful message: %v", e)
	}
}

func TestEnsureNeverTakesANonWorkload(t *testing.T) {
	s := hostileServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, "{}")
			return
		}
		fmt.Fprint(w, "[]")
	})
	zero := 0
	mgmt, err := inferencekey.NewManagementClient(inferencekey.ManagementOptions{
		BaseURL: s.URL, Project: "p", SDKToken: "ik_sdk_abcdefgh12_ssssssssssssssssssssssssssssssss", MaxRetries: &zero,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer mgmt.Close()
	_, err = mgmt.Ensure(context.Background(), spec("w", inferencekey.TaskText2Text, ""), inferencekey.OnDriftReconcile)
	wantCode(t, err, inferencekey.KindProtocol, "not_a_workload")
}
