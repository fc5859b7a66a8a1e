package inferencekey_test

import (
	"fmt"
	"os"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/sdk/bindings/go"
)

// TestMain fails the run when a native handle outlives the tests, as the library counts
// them (ik_live_handles): every test closes what it opens.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		// A call abandoned by a cancelled context finishes in the background and then frees
		// what it opened; give those a bounded moment.
		for deadline := time.Now().Add(30 * time.Second); inferencekey.LiveHandles() > 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if n := inferencekey.LiveHandles(); n != 0 {
			fmt.Fprintf(os.Stderr, "FAIL: %d native handle(s) still open after the tests (ik_live_handles): a Close is missing\n", n)
			code = 1
		}
	}
	os.Exit(code)
}
