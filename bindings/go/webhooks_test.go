package inferencekey_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/sdk/bindings/go"
)

const (
	hookSecret = "whsec_go_test_secret"
	hookBody   = `{"event":"job.completed","job_id":"job_go","data":{"status":"succeeded"}}`
)

var hookTime = time.Unix(1_700_000_000, 0)

// independentSignature signs as docs/contract.md says, without the SDK: the check that the
// library verifies the documented rule, not merely its own output.
func independentSignature(body, secret string, t time.Time) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", t.Unix(), body)
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(mac.Sum(nil)))
}

// wantRejected checks a rejected delivery: validation on the signature header, with code,
// and without the secret anywhere in the error.
func wantRejected(t *testing.T, err error, code string) *inferencekey.Error {
	t.Helper()
	e := asError(t, err, inferencekey.KindValidation)
	if e.Code != code || e.Field != inferencekey.SignatureHeader {
		t.Fatalf("want code %s on %s, got %q on %q: %v", code, inferencekey.SignatureHeader, e.Code, e.Field, e)
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v", e, e, e), hookSecret) {
		t.Fatalf("the secret leaked into the error: %v", e)
	}
	return e
}

func TestWebhookValidSignaturePasses(t *testing.T) {
	header := independentSignature(hookBody, hookSecret, hookTime)
	if err := inferencekey.VerifyWebhook([]byte(hookBody), header, []byte(hookSecret),
		inferencekey.WithNow(hookTime.Add(10*time.Second))); err != nil {
		t.Fatal(err)
	}
	signed, err := inferencekey.SignWebhook([]byte(hookBody), []byte(hookSecret), hookTime)
	if err != nil || signed != header {
		t.Fatalf("SignWebhook = %q, %v; want %q", signed, err, header)
	}
	// Against the system clock, a fresh signature passes.
	now := time.Now()
	if err := inferencekey.VerifyWebhook([]byte(hookBody), independentSignature(hookBody, hookSecret, now),
		[]byte(hookSecret)); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookRejections(t *testing.T) {
	header := independentSignature(hookBody, hookSecret, hookTime)
	at := inferencekey.WithNow(hookTime)
	tampered := strings.Replace(hookBody, "succeeded", "failed", 1)
	wantRejected(t, inferencekey.VerifyWebhook([]byte(tampered), header, []byte(hookSecret), at), "invalid_signature")
	wantRejected(t, inferencekey.VerifyWebhook([]byte(hookBody), header, []byte("whsec_wrong"), at), "invalid_signature")

	late := inferencekey.WithNow(hookTime.Add(301 * time.Second))
	e := wantRejected(t, inferencekey.VerifyWebhook([]byte(hookBody), header, []byte(hookSecret), late), "signature_expired")
	if !strings.Contains(e.Message, "301 s old") {
		t.Fatalf("the message should say how old: %v", e)
	}
	// A wider tolerance takes the same delivery; zero means the exact second.
	if err := inferencekey.VerifyWebhook([]byte(hookBody), header, []byte(hookSecret), late,
		inferencekey.WithTolerance(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	wantRejected(t, inferencekey.VerifyWebhook([]byte(hookBody), header, []byte(hookSecret),
		inferencekey.WithNow(hookTime.Add(time.Second)), inferencekey.WithTolerance(0)), "signature_expired")

	e = wantRejected(t, inferencekey.VerifyWebhook([]byte(hookBody), "v1="+strings.Repeat("ab", 32), []byte(hookSecret), at), "malformed_signature")
	if !strings.Contains(e.Message, "`t` is missing") {
		t.Fatalf("the message should say what is malformed: %v", e)
	}
	e = asError(t, inferencekey.VerifyWebhook([]byte(hookBody), header, nil, at), inferencekey.KindConfiguration)
	if !strings.Contains(e.Message, "secret is empty") {
		t.Fatalf("unexpected message: %v", e)
	}
	e = asError(t, inferencekey.VerifyWebhook([]byte(hookBody), header, []byte(hookSecret),
		inferencekey.WithTolerance(-time.Second)), inferencekey.KindConfiguration)
	if e.Field != "tolerance" {
		t.Fatalf("want field tolerance, got %q: %v", e.Field, e)
	}
	asError(t, inferencekey.VerifyWebhook([]byte(hookBody), "t=1\x00", []byte(hookSecret)), inferencekey.KindInvalidArgument)
}

func TestWebhookBinaryAndEmptyBodies(t *testing.T) {
	for _, body := range []string{"", "\x00raw\xff bytes\x00"} {
		header := independentSignature(body, hookSecret, hookTime)
		if err := inferencekey.VerifyWebhook([]byte(body), header, []byte(hookSecret),
			inferencekey.WithNow(hookTime)); err != nil {
			t.Fatalf("%q: %v", body, err)
		}
	}
}

func TestWebhookOptionsAreTheCoreFields(t *testing.T) {
	core, err := inferencekey.TypeFields("WebhookSettings")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	inferencekey.WithTolerance(time.Second)(got)
	inferencekey.WithNow(hookTime)(got)
	if len(got) != len(core) {
		t.Fatalf("options set %v, the core declares %v", got, core)
	}
	for _, f := range core {
		if _, ok := got[f]; !ok {
			t.Fatalf("no option sets %q (core: %v)", f, core)
		}
	}
}
