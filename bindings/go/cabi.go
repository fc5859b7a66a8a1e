package inferencekey

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/debug -l:libinferencekey_capi.a -ldl -lm -lpthread
#include <stdlib.h>
#include "inferencekey.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"time"
	"unsafe"
)

// Version is the version of the linked SDK core.
func Version() string { return C.GoString(C.ik_version()) }

// TypeFields lists the JSON fields of one of the core's types (TextRequest, Workload, …), as
// the library declares them; the tests check this package's structs against it.
func TypeFields(name string) ([]string, error) {
	var a cstrings
	defer a.free()
	cname, err := a.str(name, "type_name")
	if err != nil {
		return nil, err
	}
	var out *C.char
	if err := ccall(func() C.enum_ik_status { return C.ik_type_fields(cname, &out) }); err != nil {
		return nil, err
	}
	var fields []string
	if err := json.Unmarshal([]byte(takeString(out)), &fields); err != nil {
		return nil, err
	}
	return fields, nil
}

// cstrings holds the C copies of a call's string arguments until the call returns.
type cstrings struct{ ptrs []unsafe.Pointer }

// str copies s into C memory; a string with a NUL byte cannot cross and is an error.
func (a *cstrings) str(s string, param string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, &Error{Kind: KindInvalidArgument, Code: "invalid_argument", Field: param,
			Message: param + " contains a NUL byte",
			text:    "invalid argument: " + param + " contains a NUL byte"}
	}
	p := C.CString(s)
	a.ptrs = append(a.ptrs, unsafe.Pointer(p))
	return p, nil
}

// json marshals v and copies it into C memory.
func (a *cstrings) json(v any, param string) (*C.char, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, &Error{Kind: KindInvalidArgument, Code: "invalid_argument", Field: param,
			Message: fmt.Sprintf("%s cannot be encoded as JSON: %v", param, err),
			text:    fmt.Sprintf("invalid argument: %s cannot be encoded as JSON: %v", param, err)}
	}
	return a.str(string(b), param)
}

func (a *cstrings) free() {
	for _, p := range a.ptrs {
		C.free(p)
	}
	a.ptrs = nil
}

// takeString copies a string the library returned and frees the original.
func takeString(p *C.char) string {
	if p == nil {
		return ""
	}
	defer C.ik_string_free(p)
	return C.GoString(p)
}

// ccall runs one ABI call and turns a failure into an *Error.
//
// The library keeps error details per OS thread, and the Go scheduler may move a goroutine
// to another thread between two cgo calls; locking the thread for the pair makes sure the
// details read are the ones this call left.
func ccall(fn func() C.enum_ik_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if st := fn(); st != C.IK_OK {
		return lastError(int(st))
	}
	return nil
}

func lastError(status int) error {
	raw := takeString(C.ik_last_error_json())
	var w struct {
		Kind       Kind              `json:"kind"`
		HTTPStatus *int              `json:"http_status"`
		Code       *string           `json:"code"`
		Message    string            `json:"message"`
		Display    string            `json:"display"`
		Field      *string           `json:"field"`
		RequestID  *string           `json:"request_id"`
		Headers    map[string]string `json:"headers"`
		RetryAfter *float64          `json:"retry_after"`
		Problems   []FieldProblem    `json:"problems"`
		Plan       []Change          `json:"plan"`
	}
	if raw == "" || json.Unmarshal([]byte(raw), &w) != nil {
		name := C.GoString(C.ik_status_name(C.int32_t(status)))
		return &Error{Kind: Kind(name), Message: "the SDK reported status " + name,
			text: "the SDK reported status " + name}
	}
	e := &Error{Kind: w.Kind, Message: w.Message, Problems: w.Problems, Plan: w.Plan,
		Headers: w.Headers, text: w.Display}
	if w.HTTPStatus != nil {
		e.Status = *w.HTTPStatus
	}
	if w.Code != nil {
		e.Code = *w.Code
	}
	if w.Field != nil {
		e.Field = *w.Field
	}
	if w.RequestID != nil {
		e.RequestID = *w.RequestID
	}
	if w.RetryAfter != nil {
		e.RetryAfter = time.Duration(*w.RetryAfter * float64(time.Second))
	}
	return e
}

// callOptions is the per-call options object: the context's deadline becomes `timeout`.
func callOptions(ctx context.Context, extra map[string]any) (map[string]any, error) {
	opts := map[string]any{}
	for k, v := range extra {
		opts[k] = v
	}
	if d, ok := ctx.Deadline(); ok {
		left := time.Until(d)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		opts["timeout"] = left.Seconds()
	}
	return opts, nil
}

// withContext runs a blocking ABI call so that the caller returns as soon as ctx is done.
//
// A C call cannot be interrupted, so on cancellation the call is abandoned: it finishes in
// the background (bounded by the deadline passed down as `timeout`, or the client's own
// timeouts) and its result is dropped. When the call itself fails because the context ended,
// the error wraps both the context's error and the SDK's *Error.
func withContext[T any](ctx context.Context, fn func() (T, error), discard func(T) error) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if ctx.Done() == nil {
		return fn()
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result) // unbuffered: a send succeeds only if someone still waits
	abandoned := make(chan struct{})
	go func() {
		v, err := fn()
		select {
		case ch <- result{v, err}:
		case <-abandoned:
			if err == nil && discard != nil {
				_ = discard(v)
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil && ctx.Err() != nil {
			return zero, fmt.Errorf("%w: %w", ctx.Err(), r.err)
		}
		return r.v, r.err
	case <-ctx.Done():
		close(abandoned)
		// The call may have finished at the same moment: take its result rather than lose it.
		select {
		case r := <-ch:
			if r.err == nil && discard != nil {
				_ = discard(r.v)
			}
		default:
		}
		return zero, ctx.Err()
	}
}

// invokeJSON runs one ABI call with per-call options built from ctx and extra, and decodes
// its JSON result into out (when out is not nil). fn may fail before the call (an argument
// that cannot cross); that error wins.
func invokeJSON(ctx context.Context, extra map[string]any, out any,
	fn func(a *cstrings, opts *C.char, res **C.char) (C.enum_ik_status, error)) error {
	opts, err := callOptions(ctx, extra)
	if err != nil {
		return err
	}
	var a cstrings
	defer a.free()
	copts, err := a.json(opts, "options")
	if err != nil {
		return err
	}
	var res *C.char
	var argErr error
	err = ccall(func() C.enum_ik_status {
		st, e := fn(&a, copts, &res)
		argErr = e
		return st
	})
	text := takeString(res)
	if argErr != nil {
		return argErr
	}
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal([]byte(text), out); err != nil {
			return &Error{Kind: KindProtocol, Message: "undecodable result: " + err.Error(),
				text: "protocol error: undecodable result: " + err.Error()}
		}
	}
	return nil
}

func secondsOrNil(d time.Duration) any {
	if d <= 0 {
		return nil
	}
	return d.Seconds()
}

// clientOptions is the options object both client constructors take.
func clientOptions(baseURL, project, tokenKey, token string, timeout, connect, read time.Duration, maxRetries *int) map[string]any {
	opts := map[string]any{"language": "go"}
	set := func(k string, v any) {
		if v != nil && v != "" {
			opts[k] = v
		}
	}
	set("base_url", baseURL)
	set("project", project)
	set(tokenKey, token)
	set("timeout", secondsOrNil(timeout))
	set("connect_timeout", secondsOrNil(connect))
	set("read_timeout", secondsOrNil(read))
	if maxRetries != nil {
		opts["max_retries"] = *maxRetries
	}
	return opts
}

func errClosed(what string) error {
	return &Error{Kind: KindInvalidArgument, Code: "closed", Message: what + " is closed",
		text: "invalid argument: " + what + " is closed"}
}
