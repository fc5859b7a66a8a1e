package inferencekey_test

import (
	"context"
	"errors"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	inferencekey "github.com/inferencekey/sdk/bindings/go"
)

// The tests run against a real local Manager; scripts/test-capi starts one and exports
// INFERENCEKEY_BASE_URL, INFERENCEKEY_PROJECT, INFERENCEKEY_SDK_TOKEN, INFERENCEKEY_API_KEY.
func requireManager(t *testing.T) {
	t.Helper()
	for _, v := range []string{"INFERENCEKEY_BASE_URL", "INFERENCEKEY_PROJECT", "INFERENCEKEY_SDK_TOKEN", "INFERENCEKEY_API_KEY"} {
		if os.Getenv(v) == "" {
			t.Skipf("%s is not set: run scripts/test-capi, which starts a local Manager", v)
		}
	}
}

func spec(slug string, task inferencekey.TaskType, command string) inferencekey.WorkloadSpec {
	return inferencekey.WorkloadSpec{
		Name:     "Go " + slug,
		Slug:     slug,
		Model:    "m",
		Backend:  inferencekey.BackendVLLM,
		TaskType: task,
		Command:  command,
	}
}

var (
	setupOnce sync.Once
	setupErr  error
)

// workloads ensures the chat and embedding workloads once and waits until they are ready.
func workloads(t *testing.T) *inferencekey.ManagementClient {
	t.Helper()
	requireManager(t)
	mgmt, err := inferencekey.NewManagementClient(inferencekey.ManagementOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mgmt.Close() })
	setupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		for _, s := range []inferencekey.WorkloadSpec{
			spec("go-chat", inferencekey.TaskText2Text, "vllm serve m"),
			spec("go-embed", inferencekey.TaskEmbedding, "vllm serve m"),
		} {
			if _, setupErr = mgmt.Ensure(ctx, s, inferencekey.OnDriftReconcile); setupErr != nil {
				return
			}
			if _, setupErr = mgmt.WaitUntilReady(ctx, s.Slug); setupErr != nil {
				return
			}
		}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return mgmt
}

func endpoint(t *testing.T, workload string) *inferencekey.Endpoint {
	t.Helper()
	data, err := inferencekey.NewDataClient(inferencekey.DataOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { data.Close() })
	ep, err := data.Endpoint(workload)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

func asError(t *testing.T, err error, kind inferencekey.Kind) *inferencekey.Error {
	t.Helper()
	var e *inferencekey.Error
	if !errors.As(err, &e) {
		t.Fatalf("want an *inferencekey.Error of kind %s, got %T: %v", kind, err, err)
	}
	if e.Kind != kind {
		t.Fatalf("want kind %s, got %s: %v", kind, e.Kind, e)
	}
	return e
}

func TestVersion(t *testing.T) {
	if inferencekey.Version() == "" {
		t.Fatal("empty version")
	}
}

func TestLocalErrors(t *testing.T) {
	requireManager(t)
	_, err := inferencekey.NewManagementClient(inferencekey.ManagementOptions{SDKToken: os.Getenv("INFERENCEKEY_API_KEY")})
	e := asError(t, err, inferencekey.KindPermissionDenied)
	if e.Code != "wrong_credential_type" || e.Field != "sdk_token" {
		t.Fatalf("code %q field %q", e.Code, e.Field)
	}
	if !errors.Is(err, inferencekey.ErrPermissionDenied) || errors.Is(err, inferencekey.ErrAuth) {
		t.Fatal("errors.Is does not follow the kind")
	}
	if strings.Contains(err.Error(), os.Getenv("INFERENCEKEY_API_KEY")) {
		t.Fatal("the key leaked into the error text")
	}
	if !strings.HasPrefix(err.Error(), "permission denied [wrong_credential_type]: ") {
		t.Fatalf("message prefix: %q", err.Error())
	}

	_, err = inferencekey.NewManagementClient(inferencekey.ManagementOptions{BaseURL: "ftp://nowhere"})
	if asError(t, err, inferencekey.KindConfiguration).Field != "base_url" {
		t.Fatal("field")
	}

	mgmt, err := inferencekey.NewManagementClient(inferencekey.ManagementOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer mgmt.Close()
	ctx := context.Background()
	bad := inferencekey.WorkloadSpec{Slug: "go-bad", Model: "m", ExecutionPolicy: inferencekey.PolicyFixed,
		ExecutionPolicyConfig: map[string]any{"replicas": 0}}
	_, err = mgmt.Ensure(ctx, bad, "")
	e = asError(t, err, inferencekey.KindValidation)
	if e.Field != "name" || len(e.Problems) < 2 {
		t.Fatalf("field %q problems %v", e.Field, e.Problems)
	}
	_, err = mgmt.Ensure(ctx, spec("go-x", "", "vllm serve m"), "sometimes")
	if asError(t, err, inferencekey.KindConfiguration).Field != "on_drift" {
		t.Fatal("on_drift field")
	}
	_, err = mgmt.Get(ctx, "nul\x00byte")
	asError(t, err, inferencekey.KindInvalidArgument)

	mgmt.Close()
	_, err = mgmt.List(ctx)
	asError(t, err, inferencekey.KindInvalidArgument)
	mgmt.Close() // twice is fine
}

func TestEnsureLifecycle(t *testing.T) {
	mgmt := workloads(t)
	ctx := context.Background()

	s := spec("go-life", inferencekey.TaskText2Text, "vllm serve m")
	ref, err := mgmt.Ensure(ctx, s, inferencekey.OnDriftDryRun)
	if err != nil || ref.Action != inferencekey.ActionWouldCreate || ref.WorkloadID != "" {
		t.Fatalf("dry run: %+v %v", ref, err)
	}
	ref, err = mgmt.Ensure(ctx, s, "")
	if err != nil || ref.Action != inferencekey.ActionCreated || ref.WorkloadSlug != "go-life" || ref.Workload == nil {
		t.Fatalf("create: %+v %v", ref, err)
	}
	ref, err = mgmt.Ensure(ctx, s, "")
	if err != nil || ref.Action != inferencekey.ActionUnchanged || len(ref.Plan) != 0 {
		t.Fatalf("unchanged: %+v %v", ref, err)
	}

	s.Command = "vllm serve m --max-model-len 4096"
	_, err = mgmt.Ensure(ctx, s, inferencekey.OnDriftFail)
	e := asError(t, err, inferencekey.KindDrift)
	if len(e.Plan) != 1 || e.Plan[0].Field != "config.command" || e.Plan[0].Desired != s.Command {
		t.Fatalf("plan %+v", e.Plan)
	}
	if !errors.Is(err, inferencekey.ErrDrift) || !errors.Is(err, inferencekey.ErrValidation) {
		t.Fatal("a drift error is a validation error")
	}
	ref, err = mgmt.Ensure(ctx, s, inferencekey.OnDriftIgnore)
	if err != nil || ref.Action != inferencekey.ActionDrifted {
		t.Fatalf("ignore: %+v %v", ref, err)
	}
	ref, err = mgmt.Ensure(ctx, s, inferencekey.OnDriftReconcile)
	if err != nil || ref.Action != inferencekey.ActionUpdated || ref.Workload.Config["command"] != s.Command {
		t.Fatalf("reconcile: %+v %v", ref, err)
	}

	w, err := mgmt.Get(ctx, " Go_Life ")
	if err != nil || w.Slug != "go-life" || w.ModelName != "m" || w.ID != ref.WorkloadID {
		t.Fatalf("get: %+v %v", w, err)
	}
	list, err := mgmt.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, w := range list {
		found = found || w.Slug == "go-life"
	}
	if !found {
		t.Fatalf("go-life not in %+v", list)
	}

	ev, err := mgmt.WaitUntilReady(ctx, "go-life")
	if err != nil || ev.Phase != "ready" {
		t.Fatalf("ready: %+v %v", ev, err)
	}
	events, err := mgmt.ReadinessEvents(ctx, "go-life")
	if err != nil {
		t.Fatal(err)
	}
	var phases []string
	for events.Next() {
		phases = append(phases, events.Current().Phase)
	}
	if events.Err() != nil || len(phases) == 0 || phases[len(phases)-1] != "ready" {
		t.Fatalf("events %v %v", phases, events.Err())
	}
	events.Close()

	if err := mgmt.Delete(ctx, "go-life"); err != nil {
		t.Fatal(err)
	}
	_, err = mgmt.Get(ctx, "go-life")
	if !errors.Is(err, inferencekey.ErrNotFound) || asError(t, err, inferencekey.KindNotFound).Status != 404 {
		t.Fatalf("after delete: %v", err)
	}
	if err := mgmt.Delete(ctx, "go-life"); !errors.Is(err, inferencekey.ErrNotFound) {
		t.Fatalf("delete twice: %v", err)
	}
}

// jsonFields lists the json tags of a struct's fields (those not tagged "-").
func jsonFields(v any) []string {
	var out []string
	ty := reflect.TypeOf(v)
	for i := 0; i < ty.NumField(); i++ {
		tag := strings.Split(ty.Field(i).Tag.Get("json"), ",")[0]
		if tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	sort.Strings(out)
	return out
}

// The Go structs declare the same fields as the core's types (no Manager needed).
func TestFieldListsMatchTheCore(t *testing.T) {
	for name, v := range map[string]any{
		"TextRequest":  inferencekey.TextRequest{},
		"Workload":     inferencekey.Workload{},
		"WorkloadSpec": inferencekey.WorkloadSpec{},
	} {
		core, err := inferencekey.TypeFields(name)
		if err != nil {
			t.Fatal(err)
		}
		// A call's timeout is the context's deadline in Go, not a request field.
		kept := core[:0]
		for _, f := range core {
			if f != "timeout" {
				kept = append(kept, f)
			}
		}
		core = kept
		sort.Strings(core)
		if got := jsonFields(v); !reflect.DeepEqual(got, core) {
			t.Errorf("%s: Go declares %v, the core %v", name, got, core)
		}
	}
	if _, err := inferencekey.TypeFields("Nope"); err == nil {
		t.Fatal("an unknown type is an error")
	}
}

// Go's kinds are the core's error kinds plus the ABI's own two (checked through the C
// status names, which a Rust test checks against the core's table).
func TestKindsMatchTheCore(t *testing.T) {
	var kinds []string
	for status := 1; status < 32; status++ {
		name := inferencekey.StatusName(status)
		if name != "unknown" {
			kinds = append(kinds, name)
		}
	}
	if len(kinds) != 15 {
		t.Fatalf("statuses %v", kinds)
	}
	for _, k := range kinds {
		if !inferencekey.KnownKind(inferencekey.Kind(k)) {
			t.Errorf("the library reports kind %q, which Go does not declare", k)
		}
	}
}

func TestGenerateText(t *testing.T) {
	workloads(t)
	ep := endpoint(t, "go-chat")
	ctx := context.Background()

	base, err := ep.BaseURL()
	if err != nil || !strings.HasSuffix(base, "/go-chat/v1") {
		t.Fatalf("base url %q %v", base, err)
	}
	out, err := ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "Hola", Temperature: inferencekey.Float(0.2), MaxTokens: inferencekey.Int(32)})
	if err != nil || out.Text == "" || out.Model == "" || len(out.Raw) == 0 {
		t.Fatalf("generate: %+v %v", out, err)
	}
	// The result carries the response: its request id and headers.
	if out.RequestID == "" || out.Headers["x-request-id"] != out.RequestID ||
		!strings.HasPrefix(out.Headers["content-type"], "application/json") {
		t.Fatalf("response meta: %q %v", out.RequestID, out.Headers)
	}
	// A per-call retry count is a request field the core checks.
	_, err = ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "x", MaxRetries: inferencekey.Int(101)})
	if e := asError(t, err, inferencekey.KindConfiguration); e.Field != "max_retries" {
		t.Fatalf("max_retries: %+v", e)
	}
	if _, err = ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "x", MaxRetries: inferencekey.Int(0)}); err != nil {
		t.Fatal(err)
	}
	out, err = ep.GenerateText(ctx, inferencekey.TextRequest{Messages: []inferencekey.Message{{Role: "user", Content: "Hola"}}})
	if err != nil || out.Text == "" {
		t.Fatalf("messages: %+v %v", out, err)
	}
	_, err = ep.GenerateText(ctx, inferencekey.TextRequest{})
	if asError(t, err, inferencekey.KindValidation).Field != "prompt" {
		t.Fatal("field")
	}

	// The parameters added to the core's TextRequest reach the engine under their names.
	out, err = ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "Hola", MaxTokens: inferencekey.Int(4),
		FrequencyPenalty: inferencekey.Float(0.5), PresencePenalty: inferencekey.Float(-0.5),
		Logprobs: inferencekey.Bool(true), N: inferencekey.Int(1), User: "end-user-42"})
	if err != nil || !strings.Contains(string(out.Raw), `"logprobs":{"content":[]}`) {
		t.Fatalf("new parameters: %s %v", out.Raw, err)
	}
	for field, req := range map[string]inferencekey.TextRequest{
		"frequency_penalty": {Prompt: "Hola", FrequencyPenalty: inferencekey.Float(3)},
		"presence_penalty":  {Prompt: "Hola", PresencePenalty: inferencekey.Float(-3)},
		"n":                 {Prompt: "Hola", N: inferencekey.Int(2)},
		"user":              {Prompt: "Hola", User: strings.Repeat("u", 300)},
	} {
		_, err = ep.GenerateText(ctx, req)
		if got := asError(t, err, inferencekey.KindValidation).Field; got != field {
			t.Fatalf("%s: field %q", field, got)
		}
	}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "concurrent"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestStream(t *testing.T) {
	workloads(t)
	ep := endpoint(t, "go-chat")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	s, err := ep.GenerateTextStream(ctx, inferencekey.TextRequest{Prompt: "Tell me a story"})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	chunks, finish := 0, ""
	for s.Next() {
		c := s.Current()
		text.WriteString(c.Text)
		chunks++
		if c.FinishReason != "" {
			finish = c.FinishReason
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if chunks < 2 || text.Len() == 0 || finish == "" {
		t.Fatalf("%d chunks, text %q, finish %q", chunks, text.String(), finish)
	}
	full, err := ep.GenerateText(ctx, inferencekey.TextRequest{Prompt: "Tell me a story"})
	if err != nil {
		t.Fatal(err)
	}
	if full.Text != text.String() {
		t.Fatalf("streamed %q, whole %q", text.String(), full.Text)
	}

	// Stopping early releases the stream.
	s, err = ep.GenerateTextStream(ctx, inferencekey.TextRequest{Prompt: "Tell me a story"})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Next() {
		t.Fatal(s.Err())
	}
	s.Close()
	if s.Next() {
		t.Fatal("a closed stream yields nothing")
	}
}

func TestEmbedAndRerank(t *testing.T) {
	workloads(t)
	ep := endpoint(t, "go-embed")
	ctx := context.Background()
	res, err := ep.Embed(ctx, inferencekey.EmbedRequest{Input: []string{"a", "bb", "ccc"}})
	if err != nil || len(res.Embeddings) != 3 || len(res.Embeddings[0]) == 0 {
		t.Fatalf("embed: %+v %v", res, err)
	}
	_, err = ep.Embed(ctx, inferencekey.EmbedRequest{})
	if asError(t, err, inferencekey.KindValidation).Field != "input" {
		t.Fatal("field")
	}
	rr, err := ep.Rerank(ctx, inferencekey.RerankRequest{Query: "q", Documents: []string{"x", "yy", "zzz"}, TopN: 2})
	if err != nil || len(rr.Results) != 2 {
		t.Fatalf("rerank: %+v %v", rr, err)
	}
	if rr.Results[0].RelevanceScore < rr.Results[1].RelevanceScore {
		t.Fatalf("not best first: %+v", rr.Results)
	}
}

func TestJobs(t *testing.T) {
	workloads(t)
	ep := endpoint(t, "go-chat")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id, err := ep.SubmitJob(ctx, inferencekey.JobRequest{
		Kind:    "chat",
		Body:    map[string]any{"messages": []inferencekey.Message{{Role: "user", Content: "hi"}}},
		Context: map[string]any{"ticket": 7},
	})
	if err != nil || id == "" {
		t.Fatalf("submit: %q %v", id, err)
	}
	st, err := ep.JobStatus(ctx, id)
	if err != nil || st.JobID != id || st.Status == "" {
		t.Fatalf("status: %+v %v", st, err)
	}
	st, err = ep.WaitJob(ctx, id)
	if err != nil || st.Status != "succeeded" || !st.Done() || len(st.Result) == 0 {
		t.Fatalf("wait: %+v %v", st, err)
	}
	_, err = ep.SubmitJob(ctx, inferencekey.JobRequest{Kind: "teleport", Body: map[string]any{}})
	if asError(t, err, inferencekey.KindValidation).Field != "kind" {
		t.Fatal("field")
	}
	_, err = ep.JobStatus(ctx, "no-such-job")
	if !errors.Is(err, inferencekey.ErrNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
}

func TestDataPlaneAuth(t *testing.T) {
	requireManager(t)
	data, err := inferencekey.NewDataClient(inferencekey.DataOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	_, err = data.Endpoint("go-chat", inferencekey.WithAPIKey(os.Getenv("INFERENCEKEY_SDK_TOKEN")))
	if asError(t, err, inferencekey.KindPermissionDenied).Code != "wrong_credential_type" {
		t.Fatal("code")
	}
	ep, err := data.Endpoint("go-chat", inferencekey.WithAPIKey("ik_live_abcdefgh_notissued"))
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	_, err = ep.GenerateText(context.Background(), inferencekey.TextRequest{Prompt: "hi"})
	e := asError(t, err, inferencekey.KindAuth)
	if e.Status != 401 || strings.Contains(e.Error(), "notissued") {
		t.Fatalf("auth error: %+v", e)
	}
	if e.RequestID == "" || e.Headers["x-request-id"] != e.RequestID {
		t.Fatalf("error meta: %q %v", e.RequestID, e.Headers)
	}
}

func TestContext(t *testing.T) {
	requireManager(t)
	mgmt, err := inferencekey.NewManagementClient(inferencekey.ManagementOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer mgmt.Close()

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := mgmt.List(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if _, err := mgmt.List(expired); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired: %v", err)
	}

	// A server that accepts and never answers: cancelling returns at once, and the abandoned
	// call ends on the client's own timeout in the background.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	silent, err := inferencekey.NewManagementClient(inferencekey.ManagementOptions{
		BaseURL: "http://" + l.Addr().String(), Timeout: time.Second, MaxRetries: new(int),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ctx, cancel3 := context.WithCancel(context.Background())
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel3()
	}()
	if _, err := silent.Get(ctx, "anything"); !errors.Is(err, context.Canceled) {
		t.Fatalf("in-flight cancel: %v", err)
	}
	// A deadline is passed down: the SDK's own timeout fires and both errors are visible.
	ctx4, cancel4 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel4()
	_, err = silent.Get(ctx4, "anything")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}
}
