package inferencekey

/*
#include "inferencekey.h"
*/
import "C"

import "time"

// Kind says what went wrong, at the granularity a caller branches on. The values are the
// SDK's error kinds, identical in every language binding.
type Kind string

const (
	// KindInvalidArgument: the binding was misused (a NUL byte in a string, a closed client).
	KindInvalidArgument Kind = "invalid_argument"
	// KindConfiguration: local misconfiguration — missing token or project, a bad option,
	// a secret in a spec. Raised before any request.
	KindConfiguration Kind = "configuration"
	// KindValidation: a field is invalid, locally or per the server (400/422). See Field and
	// Problems.
	KindValidation Kind = "validation"
	// KindDrift: Ensure with OnDriftFail found drift; Plan says what differs.
	KindDrift Kind = "drift"
	// KindAuth: 401, the token is missing, malformed, unknown, revoked or expired.
	KindAuth Kind = "auth"
	// KindPermissionDenied: 403; Code says which rule (wrong_credential_type, …).
	KindPermissionDenied Kind = "permission_denied"
	KindNotFound         Kind = "not_found"
	KindConflict         Kind = "conflict"
	// KindRateLimited: 429; RetryAfter says how long to wait.
	KindRateLimited Kind = "rate_limited"
	// KindServer: 5xx, a workload that failed to start, or an error frame mid-stream.
	KindServer     Kind = "server"
	KindConnection Kind = "connection"
	// KindTimeout: a connect, read-idle or total deadline passed.
	KindTimeout Kind = "timeout"
	// KindProtocol: the server answered something unusable (bad JSON, a truncated stream).
	KindProtocol Kind = "protocol"
	// KindHTTP: any other HTTP error status.
	KindHTTP Kind = "http"
	// KindInternal: a bug in the SDK, caught at the ABI boundary.
	KindInternal Kind = "internal"
)

// StatusName is the library's name of an ABI status (the Kind of errors with that status).
func StatusName(status int) string { return C.GoString(C.ik_status_name(C.int32_t(status))) }

// KnownKind says whether k is one of the kinds declared above.
func KnownKind(k Kind) bool {
	switch k {
	case KindInvalidArgument, KindConfiguration, KindValidation, KindDrift, KindAuth,
		KindPermissionDenied, KindNotFound, KindConflict, KindRateLimited, KindServer,
		KindConnection, KindTimeout, KindProtocol, KindHTTP, KindInternal:
		return true
	}
	return false
}

// FieldProblem is one invalid field found by validation.
type FieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is every error the SDK returns. Use errors.As to read its fields, or errors.Is with
// the Err* values to test the kind:
//
//	var e *inferencekey.Error
//	if errors.As(err, &e) && e.Kind == inferencekey.KindValidation { fmt.Println(e.Field) }
//	if errors.Is(err, inferencekey.ErrNotFound) { … }
type Error struct {
	Kind Kind
	// Status is the HTTP status, or 0 when the error is local.
	Status int
	// Code is the machine code (validation_failed, wrong_credential_type, drift_detected, …).
	Code    string
	Message string
	// Field names the first offending field (a JSON path such as
	// execution_policy_config.replicas); Problems lists all of them.
	Field     string
	Problems  []FieldProblem
	RequestID string
	// Headers are the error response's headers by lower-case name (nil without a response).
	Headers map[string]string
	// RetryAfter is the server's requested wait (rate limiting, cold starts).
	RetryAfter time.Duration
	// Plan is what Ensure would change, for KindDrift.
	Plan []Change

	text string
}

// Error is the one-line text with the SDK's documented prefix ("not found: …",
// "permission denied [code]: …"). It never contains a token, only its redacted form.
func (e *Error) Error() string {
	if e.text != "" {
		return e.text
	}
	return string(e.Kind) + ": " + e.Message
}

// Is matches the Err* sentinels: same Kind, and same Code when the target has one. A drift
// error is also a validation error, as DriftError subclasses ValidationError in Python.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t.Message != "" || (t.Code != "" && t.Code != e.Code) {
		return false
	}
	return t.Kind == e.Kind || (t.Kind == KindValidation && e.Kind == KindDrift)
}

// Sentinels for errors.Is, one per kind.
var (
	ErrInvalidArgument  = &Error{Kind: KindInvalidArgument}
	ErrConfiguration    = &Error{Kind: KindConfiguration}
	ErrValidation       = &Error{Kind: KindValidation}
	ErrDrift            = &Error{Kind: KindDrift}
	ErrAuth             = &Error{Kind: KindAuth}
	ErrPermissionDenied = &Error{Kind: KindPermissionDenied}
	ErrNotFound         = &Error{Kind: KindNotFound}
	ErrConflict         = &Error{Kind: KindConflict}
	ErrRateLimited      = &Error{Kind: KindRateLimited}
	ErrServer           = &Error{Kind: KindServer}
	ErrConnection       = &Error{Kind: KindConnection}
	ErrTimeout          = &Error{Kind: KindTimeout}
	ErrProtocol         = &Error{Kind: KindProtocol}
	ErrHTTP             = &Error{Kind: KindHTTP}
	ErrInternal         = &Error{Kind: KindInternal}
)
