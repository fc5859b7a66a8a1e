package inferencekey

/*
#include "inferencekey.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// ManagementOptions configure a ManagementClient. Empty fields fall back to the environment:
// INFERENCEKEY_BASE_URL, INFERENCEKEY_PROJECT, INFERENCEKEY_SDK_TOKEN.
type ManagementOptions struct {
	BaseURL  string
	Project  string
	SDKToken string
	// Timeout bounds every call, retries included (0 = none; a context deadline also bounds
	// each call). ConnectTimeout and ReadTimeout (idle) default to 10 s and 120 s.
	Timeout, ConnectTimeout, ReadTimeout time.Duration
	// MaxRetries overrides the default of 2 retries for transient failures.
	MaxRetries *int
}

// ManagementClient is the control-plane client (ik_sdk_ token): Ensure, Get, List, Delete,
// WaitUntilReady. Safe for concurrent use. Close it when done (a finalizer closes a client
// that was forgotten).
type ManagementClient struct {
	mu sync.RWMutex
	h  *C.ik_mgmt_client
}

// NewManagementClient builds a client; a missing token, or a data-plane (ik_live_) token,
// fails here before any request.
func NewManagementClient(opts ManagementOptions) (*ManagementClient, error) {
	var a cstrings
	defer a.free()
	copts, err := a.json(clientOptions(opts.BaseURL, opts.Project, "sdk_token", opts.SDKToken,
		opts.Timeout, opts.ConnectTimeout, opts.ReadTimeout, opts.MaxRetries), "options")
	if err != nil {
		return nil, err
	}
	var h *C.ik_mgmt_client
	if err := ccall(func() C.enum_ik_status { return C.ik_mgmt_client_new(copts, &h) }); err != nil {
		return nil, err
	}
	c := &ManagementClient{h: h}
	runtime.SetFinalizer(c, (*ManagementClient).Close)
	return c, nil
}

// Close frees the client; later calls fail with KindInvalidArgument. It waits for calls in
// flight and is safe to call twice.
func (c *ManagementClient) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		C.ik_mgmt_client_free(c.h)
		c.h = nil
	}
	return nil
}

type mgmtFn func(h *C.ik_mgmt_client, a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error)

// invoke runs one call with the handle held and decodes its JSON result into out.
func (c *ManagementClient) invoke(ctx context.Context, extra map[string]any, out any, fn mgmtFn) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return errClosed("ManagementClient")
	}
	return invokeJSON(ctx, extra, out, func(a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		return fn(c.h, a, opts, res)
	})
}

// do is invoke under ctx: it returns when ctx is done even if the call is still running.
func (c *ManagementClient) do(ctx context.Context, extra map[string]any, out any, fn mgmtFn) error {
	_, err := withContext(ctx, func() (struct{}, error) {
		return struct{}{}, c.invoke(ctx, extra, out, fn)
	}, nil)
	return err
}

// Ensure makes the platform match spec: one lookup, then create, patch or nothing, per
// onDrift (empty = OnDriftReconcile). With OnDriftFail, drift is a KindDrift *Error whose
// Plan lists the differences.
func (c *ManagementClient) Ensure(ctx context.Context, spec WorkloadSpec, onDrift OnDrift) (*EndpointRef, error) {
	extra := map[string]any{}
	if onDrift != "" {
		extra["on_drift"] = string(onDrift)
	}
	var ref EndpointRef
	err := c.do(ctx, extra, &ref, func(h *C.ik_mgmt_client, a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		cspec, err := a.json(spec, "spec")
		if err != nil {
			return C.IK_OK, err
		}
		return C.ik_mgmt_ensure(h, cspec, opts, res), nil
	})
	if err != nil {
		return nil, err
	}
	return &ref, nil
}

// Get returns the workload with this slug (canonicalised); ErrNotFound when there is none.
func (c *ManagementClient) Get(ctx context.Context, slug string) (*Workload, error) {
	var w Workload
	err := c.do(ctx, nil, &w, func(h *C.ik_mgmt_client, a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		cslug, err := a.str(slug, "slug")
		if err != nil {
			return C.IK_OK, err
		}
		return C.ik_mgmt_get(h, cslug, opts, res), nil
	})
	if err != nil {
		return nil, err
	}
	return &w, nil
}

// List returns every workload of the client's project.
func (c *ManagementClient) List(ctx context.Context) ([]Workload, error) {
	var ws []Workload
	err := c.do(ctx, nil, &ws, func(h *C.ik_mgmt_client, _ *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		return C.ik_mgmt_list(h, opts, res), nil
	})
	return ws, err
}

// Delete deletes the workload; ErrNotFound when it does not exist.
func (c *ManagementClient) Delete(ctx context.Context, slug string) error {
	return c.do(ctx, nil, nil, func(h *C.ik_mgmt_client, a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		cslug, err := a.str(slug, "slug")
		if err != nil {
			return C.IK_OK, err
		}
		return C.ik_mgmt_delete(h, cslug, opts), nil
	})
}

// WaitUntilReady blocks until the workload is ready and returns the ready event. It waits
// until ctx's deadline, or 10 minutes without one; a workload that failed to start is a
// KindServer error with Code "workload_error".
func (c *ManagementClient) WaitUntilReady(ctx context.Context, slug string) (*ReadinessEvent, error) {
	var ev ReadinessEvent
	err := c.do(ctx, nil, &ev, func(h *C.ik_mgmt_client, a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		cslug, err := a.str(slug, "slug")
		if err != nil {
			return C.IK_OK, err
		}
		return C.ik_mgmt_wait_until_ready(h, cslug, opts, res), nil
	})
	if err != nil {
		return nil, err
	}
	return &ev, nil
}

// ReadinessEvents opens the workload's readiness stream; it ends after ready or error.
func (c *ManagementClient) ReadinessEvents(ctx context.Context, slug string) (*Stream[ReadinessEvent], error) {
	return withContext(ctx, func() (*Stream[ReadinessEvent], error) {
		var s *C.ik_stream
		err := c.invoke(ctx, nil, nil, func(h *C.ik_mgmt_client, a *cstrings, opts *C.char, _ **C.char) (C.enum_ik_status, error) {
			cslug, err := a.str(slug, "slug")
			if err != nil {
				return C.IK_OK, err
			}
			return C.ik_mgmt_readiness_events(h, cslug, opts, &s), nil
		})
		if err != nil {
			return nil, err
		}
		return newStream[ReadinessEvent](s), nil
	}, (*Stream[ReadinessEvent]).Close)
}
