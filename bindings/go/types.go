package inferencekey

import "encoding/json"

// Backend is the serving engine; any other string names a tenant's custom backend.
type Backend string

const (
	BackendOllama             Backend = "ollama"
	BackendVLLM               Backend = "vllm"
	BackendVLLMOmni           Backend = "vllm-omni"
	BackendSGLang             Backend = "sglang"
	BackendLlamaCpp           Backend = "llamacpp"
	BackendStableDiffusionCpp Backend = "stablediffusioncpp"
)

// TaskType is the modality a workload serves (default text2text).
type TaskType string

const (
	TaskText2Text      TaskType = "text2text"
	TaskEmbedding      TaskType = "embedding"
	TaskText2Image     TaskType = "text2image"
	TaskText2Video     TaskType = "text2video"
	TaskText2Audio     TaskType = "text2audio"
	TaskImage2Image    TaskType = "image2image"
	TaskImage2Video    TaskType = "image2video"
	TaskAudio2Text     TaskType = "audio2text"
	TaskOmni           TaskType = "omni"
	TaskReranker       TaskType = "reranker"
	TaskClassification TaskType = "classification"
	TaskReward         TaskType = "reward"
	TaskForecast       TaskType = "forecast"
)

// ExecutionPolicy says how a workload is kept running (server default fixed).
type ExecutionPolicy string

const (
	PolicyFixed       ExecutionPolicy = "fixed"
	PolicyScheduled   ExecutionPolicy = "scheduled"
	PolicyAutoscaling ExecutionPolicy = "autoscaling"
)

// OnDrift says what Ensure does when the live workload differs from the spec.
type OnDrift string

const (
	// OnDriftReconcile patches exactly the drifted fields (the default).
	OnDriftReconcile OnDrift = "reconcile"
	// OnDriftFail returns a KindDrift *Error carrying the plan; nothing is written.
	OnDriftFail OnDrift = "fail"
	// OnDriftDryRun returns the plan (would_create / would_update); nothing is written.
	OnDriftDryRun OnDrift = "dry_run"
	// OnDriftWarn logs the drift and leaves it.
	OnDriftWarn OnDrift = "warn"
	// OnDriftIgnore leaves the drift silently.
	OnDriftIgnore OnDrift = "ignore"
)

// WorkloadSpec declares a workload. Slug is the idempotency key; placement (provider, VRAM)
// is the platform's job, so there are no such fields. Zero values are omitted.
type WorkloadSpec struct {
	Name                  string          `json:"name"`
	Slug                  string          `json:"slug"`
	Model                 string          `json:"model"`
	Backend               Backend         `json:"backend,omitempty"`
	Project               string          `json:"project,omitempty"`
	Description           string          `json:"description,omitempty"`
	Command               string          `json:"command,omitempty"`
	VLLMVersion           string          `json:"vllm_version,omitempty"`
	TaskType              TaskType        `json:"task_type,omitempty"`
	Config                map[string]any  `json:"config,omitempty"`
	ExecutionPolicy       ExecutionPolicy `json:"execution_policy,omitempty"`
	ExecutionPolicyConfig map[string]any  `json:"execution_policy_config,omitempty"`
	WorkerID              string          `json:"worker_id,omitempty"`
	GPUResourceID         string          `json:"gpu_resource_id,omitempty"`
}

// Workload is a workload as the control plane returns it. Enum fields keep unknown strings.
type Workload struct {
	ID                    string          `json:"id"`
	ProjectID             string          `json:"project_id"`
	ProjectSlug           string          `json:"project_slug"`
	Name                  string          `json:"name"`
	Slug                  string          `json:"slug"`
	WorkloadSlug          string          `json:"workload_slug"`
	Description           string          `json:"description"`
	TaskType              TaskType        `json:"task_type"`
	Backend               Backend         `json:"backend"`
	ModelName             string          `json:"model_name"`
	Config                map[string]any  `json:"config"`
	WorkerID              string          `json:"worker_id"`
	GPUResourceID         string          `json:"gpu_resource_id"`
	ExecutionPolicy       ExecutionPolicy `json:"execution_policy"`
	ExecutionPolicyConfig map[string]any  `json:"execution_policy_config"`
	CreatedAt             string          `json:"created_at"`
	UpdatedAt             string          `json:"updated_at"`
	// Status is the readiness phase (a local Manager extension; empty elsewhere).
	Status string `json:"status"`
	// StatusMessage says what the phase means in words (a local Manager extension).
	StatusMessage string `json:"status_message"`
	// Raw is every field the server sent, those this SDK version does not know included.
	Raw map[string]any `json:"-"`
}

// UnmarshalJSON decodes the known fields and keeps the whole object in Raw, as the core's
// Workload keeps unknown fields.
func (w *Workload) UnmarshalJSON(b []byte) error {
	type known Workload
	if err := json.Unmarshal(b, (*known)(w)); err != nil {
		return err
	}
	return json.Unmarshal(b, &w.Raw)
}

// EnsureAction is what Ensure did, or in dry-run mode would do.
type EnsureAction string

const (
	ActionCreated     EnsureAction = "created"
	ActionUpdated     EnsureAction = "updated"
	ActionUnchanged   EnsureAction = "unchanged"
	ActionDrifted     EnsureAction = "drifted"
	ActionWouldCreate EnsureAction = "would_create"
	ActionWouldUpdate EnsureAction = "would_update"
)

// Change is one field that differs between the live workload and the spec; Live is nil
// when the server has no value.
type Change struct {
	Field   string `json:"field"`
	Live    any    `json:"live"`
	Desired any    `json:"desired"`
}

// EndpointRef is what Ensure returns: which workload to call, and what happened.
type EndpointRef struct {
	ProjectSlug  string `json:"project_slug"`
	WorkloadSlug string `json:"workload_slug"`
	// WorkloadID is empty only for ActionWouldCreate.
	WorkloadID string       `json:"workload_id"`
	Action     EnsureAction `json:"action"`
	Plan       []Change     `json:"plan"`
	// Workload is the server's last answer (nil for ActionWouldCreate).
	Workload *Workload `json:"workload"`
}

// ReadinessEvent is one step of a workload's start: scheduling → provisioning →
// bootstrapping → ready, or error.
type ReadinessEvent struct {
	Phase     string `json:"phase"`
	Message   string `json:"message"`
	ElapsedMS int64  `json:"elapsed_ms"`
	Step      string `json:"step,omitempty"`
}

// Message is one chat message.
type Message struct {
	Role       string `json:"role"`
	Content    string `json:"content"`
	Name       string `json:"name,omitempty"`
	ToolCallID string `json:"tool_call_id,omitempty"`
	ToolCalls  []any  `json:"tool_calls,omitempty"`
}

// TextRequest is a chat completion request: exactly one of Prompt or Messages. Pointer
// fields are optional; Float, Int and Int64 make them inline.
type TextRequest struct {
	Prompt         string    `json:"prompt,omitempty"`
	Messages       []Message `json:"messages,omitempty"`
	Model          string    `json:"model,omitempty"`
	Temperature    *float64  `json:"temperature,omitempty"`
	MaxTokens      *int      `json:"max_tokens,omitempty"`
	TopP           *float64  `json:"top_p,omitempty"`
	Stop           []string  `json:"stop,omitempty"`
	Seed           *int64    `json:"seed,omitempty"`
	ResponseFormat any       `json:"response_format,omitempty"`
	Tools          any       `json:"tools,omitempty"`
	// FrequencyPenalty and PresencePenalty are OpenAI's -2..2 repetition penalties.
	FrequencyPenalty *float64 `json:"frequency_penalty,omitempty"`
	PresencePenalty  *float64 `json:"presence_penalty,omitempty"`
	// Logprobs asks for the log probabilities of the output tokens (see TextResult.Raw).
	Logprobs *bool `json:"logprobs,omitempty"`
	// N is the number of choices to generate.
	N *int `json:"n,omitempty"`
	// User identifies the end user, for the platform's abuse monitoring.
	User string `json:"user,omitempty"`
	// Extra holds engine-specific body keys, passed through verbatim.
	Extra map[string]any `json:"extra,omitempty"`
	// MaxRetries overrides the client's retry count for this call (at most 100).
	MaxRetries *int `json:"max_retries,omitempty"`
}

// Float returns a pointer to v, for optional request fields.
func Float(v float64) *float64 { return &v }

// Int returns a pointer to v, for optional request fields.
func Int(v int) *int { return &v }

// Bool returns a pointer to v, for optional request fields.
func Bool(v bool) *bool { return &v }

// Int64 returns a pointer to v, for optional request fields.
func Int64(v int64) *int64 { return &v }

// Usage is the token accounting of an answer.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// Response is what every result carries besides its body: the server's request id (quote it
// when reporting a problem) and the response headers, by lower-case name.
type Response struct {
	RequestID string            `json:"request_id"`
	Headers   map[string]string `json:"headers"`
}

// TextResult is a completed chat answer.
type TextResult struct {
	Response
	Text         string `json:"text"`
	Model        string `json:"model"`
	FinishReason string `json:"finish_reason"`
	Usage        *Usage `json:"usage"`
	// Message is the whole first message when it carries more than text (tool calls).
	Message map[string]any `json:"message"`
	// Raw is the server's whole answer.
	Raw json.RawMessage `json:"raw"`
}

// TextChunk is one streamed piece of an answer.
type TextChunk struct {
	Text         string `json:"text"`
	FinishReason string `json:"finish_reason"`
	Model        string `json:"model"`
	Usage        *Usage `json:"usage"`
	ToolCalls    any    `json:"tool_calls"`
}

// EmbedRequest asks for one vector per input.
type EmbedRequest struct {
	Input []string       `json:"input"`
	Model string         `json:"model,omitempty"`
	Extra map[string]any `json:"extra,omitempty"`
}

// EmbedResult holds the vectors in input order.
type EmbedResult struct {
	Response
	Embeddings [][]float32 `json:"embeddings"`
	Model      string      `json:"model"`
	Usage      *Usage      `json:"usage"`
}

// RerankRequest ranks Documents by relevance to Query; TopN 0 means all.
type RerankRequest struct {
	Query     string         `json:"query"`
	Documents []string       `json:"documents"`
	TopN      int            `json:"top_n,omitempty"`
	Extra     map[string]any `json:"extra,omitempty"`
}

// RerankItem is one ranked document; Index points into the request's Documents.
type RerankItem struct {
	Index          int     `json:"index"`
	RelevanceScore float64 `json:"relevance_score"`
	Document       any     `json:"document,omitempty"`
}

// RerankResult holds the documents best first.
type RerankResult struct {
	Response
	Results []RerankItem `json:"results"`
	Model   string       `json:"model"`
	Usage   *Usage       `json:"usage"`
}

// JobRequest is an async job: Kind (chat, embeddings, rerank, audio_speech, audio_generate,
// audio_transcriptions, images, images_edits, images_variations, forecast) and either a JSON
// Body or binary BodyBytes with its ContentType. Context is echoed to your webhook;
// WebhookURL, when set, receives this job's result instead of the workload's webhook URL.
type JobRequest struct {
	Kind        string
	Body        any
	BodyBytes   []byte
	ContentType string
	Context     any
	WebhookURL  string
}

// JobStatus is a job's state: queued, running, succeeded or failed.
type JobStatus struct {
	Response
	JobID  string          `json:"job_id"`
	Status string          `json:"status"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  json.RawMessage `json:"error,omitempty"`
}

// Done reports whether the job has finished (succeeded or failed).
func (s *JobStatus) Done() bool { return s.Status == "succeeded" || s.Status == "failed" }
