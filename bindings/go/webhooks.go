package inferencekey

/*
#include <stdlib.h>
#include "inferencekey.h"
*/
import "C"

import (
	"time"
	"unsafe"
)

// SignatureHeader is the HTTP header that carries a webhook delivery's signature.
const SignatureHeader = "X-InferenceKey-Signature"

// WebhookOption adjusts VerifyWebhook.
type WebhookOption func(map[string]any)

// WithTolerance sets how far the signature's timestamp may be from the receiver's clock
// (default 300 s; 0 means exactly now).
func WithTolerance(d time.Duration) WebhookOption {
	return func(m map[string]any) { m["tolerance"] = d.Seconds() }
}

// WithNow sets the receiver's clock (default the system clock); for tests.
func WithNow(now time.Time) WebhookOption {
	return func(m map[string]any) { m["now"] = now.Unix() }
}

// cbytes copies b into C memory (the ABI takes pointer and length); nil for an empty slice.
func cbytes(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(C.CBytes(b)), C.size_t(len(b))
}

// freeSecret overwrites the C copy of a secret before freeing it, so it does not linger in
// freed memory.
func freeSecret(p *C.uint8_t, n C.size_t) {
	if p == nil {
		return
	}
	clear(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
	C.free(unsafe.Pointer(p))
}

// VerifyWebhook returns nil when signatureHeader (the X-InferenceKey-Signature value) signs
// the raw request body with secret and its timestamp is within the tolerance. Verify the body
// as received, before parsing it; delivery is at-least-once, so dedupe on job_id.
//
// Otherwise it returns an *Error of KindValidation with Field "X-InferenceKey-Signature" and
// Code "invalid_signature" (wrong secret, altered body), "signature_expired" (a replay or a
// skewed clock) or "malformed_signature"; an empty secret is KindConfiguration. The secret
// never appears in the error.
func VerifyWebhook(body []byte, signatureHeader string, secret []byte, opts ...WebhookOption) error {
	settings := map[string]any{}
	for _, o := range opts {
		o(settings)
	}
	var a cstrings
	defer a.free()
	cheader, err := a.str(signatureHeader, "signature_header")
	if err != nil {
		return err
	}
	copts, err := a.json(settings, "options")
	if err != nil {
		return err
	}
	cbody, nbody := cbytes(body)
	defer C.free(unsafe.Pointer(cbody))
	csecret, nsecret := cbytes(secret)
	defer freeSecret(csecret, nsecret)
	return ccall(func() C.enum_ik_status {
		return C.ik_webhook_verify(cbody, nbody, cheader, csecret, nsecret, copts)
	})
}

// SignWebhook is the X-InferenceKey-Signature value the platform sends for body at time t
// (for senders and tests).
func SignWebhook(body, secret []byte, t time.Time) (string, error) {
	if t.Unix() < 0 {
		return "", &Error{Kind: KindInvalidArgument, Code: "invalid_argument", Field: "t",
			Message: "t is before 1970", text: "invalid argument: t is before 1970"}
	}
	cbody, nbody := cbytes(body)
	defer C.free(unsafe.Pointer(cbody))
	csecret, nsecret := cbytes(secret)
	defer freeSecret(csecret, nsecret)
	var out *C.char
	if err := ccall(func() C.enum_ik_status {
		return C.ik_webhook_sign(cbody, nbody, csecret, nsecret, C.uint64_t(t.Unix()), &out)
	}); err != nil {
		return "", err
	}
	return takeString(out), nil
}

// LiveHandles is how many native handles (clients, endpoints, streams) are open right now,
// process-wide, as the library counts them: a leak check.
func LiveHandles() uint64 { return uint64(C.ik_live_handles()) }
