package inferencekey

/*
#include "inferencekey.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"runtime"
	"sync"
	"time"
)

// DataOptions configure a DataClient. Empty fields fall back to the environment:
// INFERENCEKEY_BASE_URL, INFERENCEKEY_PROJECT, INFERENCEKEY_API_KEY.
type DataOptions struct {
	BaseURL string
	Project string
	// APIKey is the default ik_live_ key for endpoints built without one.
	APIKey                               string
	Timeout, ConnectTimeout, ReadTimeout time.Duration
	MaxRetries                           *int
}

// DataClient builds Endpoints, which share its connection pool. Safe for concurrent use.
type DataClient struct {
	mu sync.RWMutex
	h  *C.ik_data_client
}

// NewDataClient builds a data-plane client. No request is made.
func NewDataClient(opts DataOptions) (*DataClient, error) {
	var a cstrings
	defer a.free()
	copts, err := a.json(clientOptions(opts.BaseURL, opts.Project, "api_key", opts.APIKey,
		opts.Timeout, opts.ConnectTimeout, opts.ReadTimeout, opts.MaxRetries), "options")
	if err != nil {
		return nil, err
	}
	var h *C.ik_data_client
	if err := ccall(func() C.enum_ik_status { return C.ik_data_client_new(copts, &h) }); err != nil {
		return nil, err
	}
	c := &DataClient{h: h}
	runtime.SetFinalizer(c, (*DataClient).Close)
	return c, nil
}

// Close frees the client; Endpoints made from it stay usable.
func (c *DataClient) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.h != nil {
		C.ik_data_client_free(c.h)
		c.h = nil
	}
	return nil
}

// EndpointOption adjusts one Endpoint.
type EndpointOption func(map[string]any)

// WithAPIKey sets the endpoint's ik_live_ key (else the client's, else INFERENCEKEY_API_KEY).
func WithAPIKey(key string) EndpointOption { return func(m map[string]any) { m["api_key"] = key } }

// WithProject overrides the client's project for this endpoint.
func WithProject(p string) EndpointOption { return func(m map[string]any) { m["project"] = p } }

// Endpoint returns the data-plane endpoint of one workload. No request is made; a missing
// or control-plane key fails here.
func (c *DataClient) Endpoint(workload string, opts ...EndpointOption) (*Endpoint, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.h == nil {
		return nil, errClosed("DataClient")
	}
	m := map[string]any{}
	for _, o := range opts {
		o(m)
	}
	var a cstrings
	defer a.free()
	cw, err := a.str(workload, "workload")
	if err != nil {
		return nil, err
	}
	copts, err := a.json(m, "options")
	if err != nil {
		return nil, err
	}
	var h *C.ik_endpoint
	if err := ccall(func() C.enum_ik_status { return C.ik_data_client_endpoint(c.h, cw, copts, &h) }); err != nil {
		return nil, err
	}
	e := &Endpoint{h: h}
	runtime.SetFinalizer(e, (*Endpoint).Close)
	return e, nil
}

// Endpoint is one workload's OpenAI-compatible data plane. Safe for concurrent use.
type Endpoint struct {
	mu sync.RWMutex
	h  *C.ik_endpoint
}

// Close frees the endpoint; streams opened from it stay usable.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h != nil {
		C.ik_endpoint_free(e.h)
		e.h = nil
	}
	return nil
}

type epFn func(h *C.ik_endpoint, a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error)

func (e *Endpoint) invoke(ctx context.Context, extra map[string]any, out any, fn epFn) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.h == nil {
		return errClosed("Endpoint")
	}
	return invokeJSON(ctx, extra, out, func(a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		return fn(e.h, a, opts, res)
	})
}

func (e *Endpoint) do(ctx context.Context, extra map[string]any, out any, fn epFn) error {
	_, err := withContext(ctx, func() (struct{}, error) {
		return struct{}{}, e.invoke(ctx, extra, out, fn)
	}, nil)
	return err
}

// request encodes a request body with ctx's deadline as its `timeout` key, which is how the
// request-taking ABI calls receive per-call options.
func request(ctx context.Context, a *cstrings, body any) (*C.char, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, &Error{Kind: KindInvalidArgument, Code: "invalid_argument", Field: "request",
			Message: "request cannot be encoded as JSON: " + err.Error(),
			text:    "invalid argument: request cannot be encoded as JSON: " + err.Error()}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	opts, err := callOptions(ctx, nil)
	if err != nil {
		return nil, err
	}
	if t, ok := opts["timeout"]; ok {
		m["timeout"], _ = json.Marshal(t)
	}
	return a.json(m, "request")
}

// BaseURL is the OpenAI-compatible base URL (…/endpoint/{project}/{workload}/v1): any
// OpenAI client works there with the ik_live_ key.
func (e *Endpoint) BaseURL() (string, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.h == nil {
		return "", errClosed("Endpoint")
	}
	var out *C.char
	if err := ccall(func() C.enum_ik_status { return C.ik_endpoint_base_url(e.h, &out) }); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// GenerateText runs a chat completion.
func (e *Endpoint) GenerateText(ctx context.Context, req TextRequest) (*TextResult, error) {
	var r TextResult
	err := e.do(ctx, nil, &r, func(h *C.ik_endpoint, a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		creq, err := request(ctx, a, req)
		if err != nil {
			return C.IK_OK, err
		}
		return C.ik_endpoint_generate_text(h, creq, res), nil
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// GenerateTextStream starts a streamed chat completion; read it with Next/Current/Err and
// Close it. ctx's deadline bounds the whole stream.
func (e *Endpoint) GenerateTextStream(ctx context.Context, req TextRequest) (*TextStream, error) {
	return withContext(ctx, func() (*TextStream, error) {
		var s *C.ik_stream
		err := e.invoke(ctx, nil, nil, func(h *C.ik_endpoint, a *cstrings, opts *C.char, _ **C.char) (C.enum_ik_status, error) {
			creq, err := request(ctx, a, req)
			if err != nil {
				return C.IK_OK, err
			}
			return C.ik_endpoint_generate_text_stream(h, creq, &s), nil
		})
		if err != nil {
			return nil, err
		}
		return newStream[TextChunk](s), nil
	}, (*TextStream).Close)
}

// Embed returns one vector per input, in input order.
func (e *Endpoint) Embed(ctx context.Context, req EmbedRequest) (*EmbedResult, error) {
	var r EmbedResult
	err := e.do(ctx, nil, &r, func(h *C.ik_endpoint, a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		creq, err := request(ctx, a, req)
		if err != nil {
			return C.IK_OK, err
		}
		return C.ik_endpoint_embed(h, creq, res), nil
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Rerank ranks documents by relevance to the query, best first.
func (e *Endpoint) Rerank(ctx context.Context, req RerankRequest) (*RerankResult, error) {
	var r RerankResult
	err := e.do(ctx, nil, &r, func(h *C.ik_endpoint, a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		creq, err := request(ctx, a, req)
		if err != nil {
			return C.IK_OK, err
		}
		return C.ik_endpoint_rerank(h, creq, res), nil
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// SubmitJob submits an async job and returns its id.
func (e *Endpoint) SubmitJob(ctx context.Context, job JobRequest) (string, error) {
	body := map[string]any{"kind": job.Kind}
	if job.BodyBytes != nil {
		body["body_b64"] = job.BodyBytes // encoding/json writes []byte as base64
		body["content_type"] = job.ContentType
	}
	if job.Body != nil {
		body["body"] = job.Body
	}
	if job.Context != nil {
		body["context"] = job.Context
	}
	if job.WebhookURL != "" {
		body["webhook_url"] = job.WebhookURL
	}
	var id string
	err := e.do(ctx, nil, nil, func(h *C.ik_endpoint, a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		creq, err := request(ctx, a, body)
		if err != nil {
			return C.IK_OK, err
		}
		st := C.ik_endpoint_submit_job(h, creq, res)
		if st == C.IK_OK {
			id = C.GoString(*res)
		}
		return st, nil
	})
	return id, err
}

// JobStatus returns a job's current state. Only the local Manager serves job status;
// elsewhere results go to your webhook and this is a KindConfiguration error with Code
// "job_status_unsupported".
func (e *Endpoint) JobStatus(ctx context.Context, jobID string) (*JobStatus, error) {
	var s JobStatus
	err := e.do(ctx, nil, &s, func(h *C.ik_endpoint, a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		cid, err := a.str(jobID, "job_id")
		if err != nil {
			return C.IK_OK, err
		}
		return C.ik_endpoint_job_status(h, cid, opts, res), nil
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// WaitJob polls until the job has succeeded or failed (a failed job is not an error: check
// Status). It waits until ctx's deadline, or 60 s without one.
func (e *Endpoint) WaitJob(ctx context.Context, jobID string) (*JobStatus, error) {
	var s JobStatus
	err := e.do(ctx, nil, &s, func(h *C.ik_endpoint, a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error) {
		cid, err := a.str(jobID, "job_id")
		if err != nil {
			return C.IK_OK, err
		}
		return C.ik_endpoint_wait_job(h, cid, opts, res), nil
	})
	if err != nil {
		return nil, err
	}
	return &s, nil
}
