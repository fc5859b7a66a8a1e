/*
 * The C ABI against a real local Manager: every function, the happy paths and the error
 * paths (NULL and non-UTF-8 arguments, bad JSON, wrong tokens, drift, not found, ...).
 * Run by scripts/test-capi under valgrind; reads INFERENCEKEY_BASE_URL, INFERENCEKEY_PROJECT,
 * INFERENCEKEY_SDK_TOKEN and INFERENCEKEY_API_KEY. Prints "N passed, N failed" last.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferencekey.h"

static int passed, failed;

#define CHECK(cond, what)                                                                 \
    do {                                                                                  \
        if (cond) {                                                                       \
            passed++;                                                                     \
        } else {                                                                          \
            failed++;                                                                     \
            fprintf(stderr, "FAIL %s:%d: %s (%s)\n", __FILE__, __LINE__, what, #cond);    \
            print_last_error();                                                           \
        }                                                                                 \
    } while (0)

static void print_last_error(void) {
    char *e = ik_last_error_json();
    if (e) {
        fprintf(stderr, "     last error: %s\n", e);
        ik_string_free(e);
    }
}

/* True when the JSON text contains `needle` (results are compact serde_json). */
static int has(const char *json, const char *needle) {
    return json != NULL && strstr(json, needle) != NULL;
}

/*
 * Checks that a call failed with `want`, and that the thread's error JSON names `field` and
 * `code` (when not NULL) and contains `extra` (when not NULL).
 */
static void expect_error(ik_status got, ik_status want, const char *field, const char *code,
                         const char *extra, const char *what) {
    char buf[256];
    char *e = ik_last_error_json();
    int ok = got == want && e != NULL;
    if (ok && field) {
        snprintf(buf, sizeof buf, "\"field\":\"%s\"", field);
        ok = has(e, buf);
    }
    if (ok && code) {
        snprintf(buf, sizeof buf, "\"code\":\"%s\"", code);
        ok = has(e, buf);
    }
    if (ok && extra) {
        ok = has(e, extra);
    }
    if (ok) {
        snprintf(buf, sizeof buf, "\"kind\":\"%s\"", ik_status_name((int32_t)want));
        ok = has(e, buf);
    }
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL %s: got status %d (%s), want %d (%s); error: %s\n", what, (int)got,
                ik_status_name((int32_t)got), (int)want, ik_status_name((int32_t)want),
                e ? e : "(none)");
    }
    ik_string_free(e);
}

static const char BAD_UTF8[] = {'{', (char)0xff, '}', 0};

static void test_static_and_errors(void) {
    CHECK(strlen(ik_version()) > 0, "ik_version");
    CHECK(strcmp(ik_status_name(IK_ERR_NOT_FOUND), "not_found") == 0, "status name");
    CHECK(strcmp(ik_status_name(12345), "unknown") == 0, "unknown status name");

    /* Frees accept NULL. */
    ik_string_free(NULL);
    ik_mgmt_client_free(NULL);
    ik_data_client_free(NULL);
    ik_endpoint_free(NULL);
    ik_stream_free(NULL);

    ik_mgmt_client *m = NULL;
    ik_status st = ik_mgmt_client_new(NULL, NULL);
    expect_error(st, IK_ERR_INVALID_ARGUMENT, "out", "invalid_argument", NULL, "NULL out");
    char *msg = ik_last_error_message();
    CHECK(msg != NULL && strncmp(msg, "invalid argument:", 17) == 0, "message prefix");
    ik_string_free(msg);

    st = ik_mgmt_client_new(BAD_UTF8, &m);
    expect_error(st, IK_ERR_INVALID_ARGUMENT, "options_json", NULL, "UTF-8", "bad UTF-8");
    CHECK(m == NULL, "out stays NULL on failure");

    st = ik_mgmt_client_new("{\"bogus\": 1, \"timeout\": -2}", &m);
    expect_error(st, IK_ERR_CONFIGURATION, "bogus", NULL, "\"field\":\"timeout\"",
                 "unknown option key and bad timeout");
    st = ik_mgmt_client_new("[1,2]", &m);
    expect_error(st, IK_ERR_CONFIGURATION, "options", NULL, NULL, "options not an object");
    st = ik_mgmt_client_new("{\"base_url\": \"ftp://x\"}", &m);
    expect_error(st, IK_ERR_CONFIGURATION, "base_url", NULL, NULL, "bad base_url");

    /* A data key handed to the control client is refused before any request, redacted. */
    char opts[512];
    snprintf(opts, sizeof opts, "{\"sdk_token\": \"%s\"}", getenv("INFERENCEKEY_API_KEY"));
    st = ik_mgmt_client_new(opts, &m);
    expect_error(st, IK_ERR_PERMISSION_DENIED, "sdk_token", "wrong_credential_type", NULL,
                 "wrong plane");
    char *e = ik_last_error_json();
    const char *key = getenv("INFERENCEKEY_API_KEY");
    CHECK(e != NULL && strstr(e, key) == NULL, "the key is not echoed");
    CHECK(has(e, "\"display\":\"permission denied [wrong_credential_type]"), "display prefix");
    ik_string_free(e);

    /* Every handle-taking function rejects a NULL handle. */
    char *out = NULL;
    ik_stream *s = NULL;
    ik_endpoint *ep = NULL;
    expect_error(ik_mgmt_ensure(NULL, "{}", NULL, &out), IK_ERR_INVALID_ARGUMENT, "client",
                 NULL, NULL, "ensure NULL client");
    expect_error(ik_mgmt_get(NULL, "x", NULL, &out), IK_ERR_INVALID_ARGUMENT, "client", NULL,
                 NULL, "get NULL client");
    expect_error(ik_mgmt_list(NULL, NULL, &out), IK_ERR_INVALID_ARGUMENT, "client", NULL, NULL,
                 "list NULL client");
    expect_error(ik_mgmt_delete(NULL, "x", NULL), IK_ERR_INVALID_ARGUMENT, "client", NULL, NULL,
                 "delete NULL client");
    expect_error(ik_mgmt_wait_until_ready(NULL, "x", NULL, &out), IK_ERR_INVALID_ARGUMENT,
                 "client", NULL, NULL, "wait NULL client");
    expect_error(ik_mgmt_readiness_events(NULL, "x", NULL, &s), IK_ERR_INVALID_ARGUMENT,
                 "client", NULL, NULL, "readiness NULL client");
    expect_error(ik_data_client_endpoint(NULL, "x", NULL, &ep), IK_ERR_INVALID_ARGUMENT,
                 "client", NULL, NULL, "endpoint NULL client");
    expect_error(ik_endpoint_base_url(NULL, &out), IK_ERR_INVALID_ARGUMENT, "endpoint", NULL,
                 NULL, "base_url NULL");
    expect_error(ik_endpoint_generate_text(NULL, "{}", &out), IK_ERR_INVALID_ARGUMENT,
                 "endpoint", NULL, NULL, "generate NULL");
    expect_error(ik_endpoint_generate_text_stream(NULL, "{}", &s), IK_ERR_INVALID_ARGUMENT,
                 "endpoint", NULL, NULL, "stream NULL");
    expect_error(ik_endpoint_embed(NULL, "{}", &out), IK_ERR_INVALID_ARGUMENT, "endpoint", NULL,
                 NULL, "embed NULL");
    expect_error(ik_endpoint_rerank(NULL, "{}", &out), IK_ERR_INVALID_ARGUMENT, "endpoint",
                 NULL, NULL, "rerank NULL");
    expect_error(ik_endpoint_submit_job(NULL, "{}", &out), IK_ERR_INVALID_ARGUMENT, "endpoint",
                 NULL, NULL, "submit NULL");
    expect_error(ik_endpoint_job_status(NULL, "j", NULL, &out), IK_ERR_INVALID_ARGUMENT,
                 "endpoint", NULL, NULL, "job status NULL");
    expect_error(ik_endpoint_wait_job(NULL, "j", NULL, &out), IK_ERR_INVALID_ARGUMENT,
                 "endpoint", NULL, NULL, "wait job NULL");
    expect_error(ik_stream_next(NULL, &out), IK_ERR_INVALID_ARGUMENT, "stream", NULL, NULL,
                 "stream next NULL");
    expect_error(ik_data_client_new(NULL, NULL), IK_ERR_INVALID_ARGUMENT, "out", NULL, NULL,
                 "data client NULL out");
}

#define SPEC_FMT                                                                             \
    "{\"name\": \"%s\", \"slug\": \"%s\", \"model\": \"m\", \"backend\": \"vllm\", "          \
    "\"task_type\": \"%s\", \"command\": \"%s\"}"

static ik_mgmt_client *mgmt;

static void test_management(void) {
    ik_status st = ik_mgmt_client_new(NULL, &mgmt);
    CHECK(st == IK_OK && mgmt != NULL, "client from the environment");
    if (!mgmt) {
        return;
    }
    char spec[512], *out = NULL;

    /* Local validation: every problem, the first one named in `field`. */
    st = ik_mgmt_ensure(mgmt, "{\"slug\": \"c-bad\", \"model\": \"m\", \"execution_policy\": "
                              "\"fixed\", \"execution_policy_config\": {\"replicas\": 0}}",
                        NULL, &out);
    expect_error(st, IK_ERR_VALIDATION, "name", "validation_failed",
                 "execution_policy_config.replicas", "invalid spec");
    CHECK(out == NULL, "no result on error");
    st = ik_mgmt_ensure(mgmt, "{\"name\": \"x\", \"slug\": \"x\", \"model\": \"m\", "
                              "\"provider\": \"aws\"}", NULL, &out);
    expect_error(st, IK_ERR_VALIDATION, "provider", NULL, "placement", "unknown spec key");
    st = ik_mgmt_ensure(mgmt, "{\"name\": ", NULL, &out);
    expect_error(st, IK_ERR_VALIDATION, "spec", NULL, "JSON", "malformed spec");
    st = ik_mgmt_ensure(mgmt, NULL, NULL, &out);
    expect_error(st, IK_ERR_INVALID_ARGUMENT, "spec_json", NULL, NULL, "NULL spec");
    st = ik_mgmt_ensure(mgmt, BAD_UTF8, NULL, &out);
    expect_error(st, IK_ERR_INVALID_ARGUMENT, "spec_json", NULL, NULL, "non-UTF-8 spec");
    snprintf(spec, sizeof spec, SPEC_FMT, "x", "c-secret", "text2text", "vllm serve m");
    {
        char secret_spec[768];
        snprintf(secret_spec, sizeof secret_spec,
                 "{\"name\": \"x\", \"slug\": \"x\", \"model\": \"m\", \"config\": {\"k\": \"%s\"}}",
                 getenv("INFERENCEKEY_API_KEY"));
        st = ik_mgmt_ensure(mgmt, secret_spec, NULL, &out);
        expect_error(st, IK_ERR_CONFIGURATION, "config.k", NULL, "secrets must never go in specs",
                     "secret in spec");
    }
    st = ik_mgmt_ensure(mgmt, spec, "{\"on_drift\": \"sometimes\"}", &out);
    expect_error(st, IK_ERR_CONFIGURATION, "on_drift", NULL, NULL, "bad on_drift");
    st = ik_mgmt_ensure(mgmt, spec, "{\"on_drfit\": \"fail\"}", &out);
    expect_error(st, IK_ERR_CONFIGURATION, "on_drfit", NULL, NULL, "typo in options");

    /* dry_run on a missing workload plans a create and writes nothing. */
    snprintf(spec, sizeof spec, SPEC_FMT, "C chat", "c-chat", "text2text", "vllm serve m");
    st = ik_mgmt_ensure(mgmt, spec, "{\"on_drift\": \"dry_run\"}", &out);
    CHECK(st == IK_OK && has(out, "\"action\":\"would_create\"") &&
              has(out, "\"workload_id\":null"),
          "dry run plans a create");
    ik_string_free(out);
    out = NULL;

    st = ik_mgmt_ensure(mgmt, spec, NULL, &out);
    CHECK(st == IK_OK && has(out, "\"action\":\"created\"") &&
              has(out, "\"workload_slug\":\"c-chat\""),
          "ensure creates");
    ik_string_free(out);
    out = NULL;
    st = ik_mgmt_ensure(mgmt, spec, NULL, &out);
    CHECK(st == IK_OK && has(out, "\"action\":\"unchanged\"") && has(out, "\"plan\":[]"),
          "ensure again is a no-op");
    ik_string_free(out);
    out = NULL;

    /* Drift, by mode. */
    char drifted[512];
    snprintf(drifted, sizeof drifted, SPEC_FMT, "C chat", "c-chat", "text2text",
             "vllm serve m --max-model-len 4096");
    st = ik_mgmt_ensure(mgmt, drifted, "{\"on_drift\": \"fail\"}", &out);
    expect_error(st, IK_ERR_DRIFT, "config.command", "drift_detected", "\"plan\":[{",
                 "drift under fail");
    st = ik_mgmt_ensure(mgmt, drifted, "{\"on_drift\": \"dry_run\"}", &out);
    CHECK(st == IK_OK && has(out, "\"action\":\"would_update\"") &&
              has(out, "\"field\":\"config.command\""),
          "dry run plans the update");
    ik_string_free(out);
    out = NULL;
    st = ik_mgmt_ensure(mgmt, drifted, "{\"on_drift\": \"ignore\"}", &out);
    CHECK(st == IK_OK && has(out, "\"action\":\"drifted\""), "ignore leaves drift");
    ik_string_free(out);
    out = NULL;
    st = ik_mgmt_ensure(mgmt, drifted, "{\"on_drift\": \"reconcile\", \"timeout\": 30}", &out);
    CHECK(st == IK_OK && has(out, "\"action\":\"updated\"") && has(out, "--max-model-len 4096"),
          "reconcile patches");
    ik_string_free(out);
    out = NULL;

    snprintf(spec, sizeof spec, SPEC_FMT, "C embed", "c-embed", "embedding", "vllm serve m");
    st = ik_mgmt_ensure(mgmt, spec, NULL, &out);
    CHECK(st == IK_OK && has(out, "\"action\":\"created\""), "ensure embedding workload");
    ik_string_free(out);
    out = NULL;

    st = ik_mgmt_get(mgmt, "c-chat", NULL, &out);
    CHECK(st == IK_OK && has(out, "\"slug\":\"c-chat\"") && has(out, "\"model_name\":\"m\""),
          "get");
    ik_string_free(out);
    out = NULL;
    st = ik_mgmt_get(mgmt, "  C_Chat ", "{\"timeout\": 10}", &out);
    CHECK(st == IK_OK && has(out, "\"slug\":\"c-chat\""), "get canonicalises the slug");
    ik_string_free(out);
    out = NULL;
    st = ik_mgmt_get(mgmt, "c-nothing-here", NULL, &out);
    expect_error(st, IK_ERR_NOT_FOUND, NULL, "not_found", "\"http_status\":404", "get missing");
    st = ik_mgmt_get(mgmt, "---", NULL, &out);
    expect_error(st, IK_ERR_VALIDATION, "slug", NULL, NULL, "unusable slug");
    st = ik_mgmt_get(mgmt, NULL, NULL, &out);
    expect_error(st, IK_ERR_INVALID_ARGUMENT, "slug", NULL, NULL, "NULL slug");
    st = ik_mgmt_get(mgmt, "c-chat", NULL, NULL);
    expect_error(st, IK_ERR_INVALID_ARGUMENT, "out_json", NULL, NULL, "NULL out_json");

    st = ik_mgmt_list(mgmt, NULL, &out);
    CHECK(st == IK_OK && out[0] == '[' && has(out, "\"slug\":\"c-chat\"") &&
              has(out, "\"slug\":\"c-embed\""),
          "list");
    ik_string_free(out);
    out = NULL;
    st = ik_mgmt_list(mgmt, "{\"project\": \"someone-else\"}", &out);
    expect_error(st, IK_ERR_PERMISSION_DENIED, NULL, "project_scope_mismatch",
                 "\"http_status\":403", "another project's list is refused");

    st = ik_mgmt_wait_until_ready(mgmt, "c-chat", "{\"timeout\": 120}", &out);
    CHECK(st == IK_OK && has(out, "\"phase\":\"ready\""), "wait until ready");
    ik_string_free(out);
    out = NULL;
    st = ik_mgmt_wait_until_ready(mgmt, "c-embed", NULL, &out);
    CHECK(st == IK_OK && has(out, "\"phase\":\"ready\""), "wait until ready (embed)");
    ik_string_free(out);
    out = NULL;

    ik_stream *events = NULL;
    st = ik_mgmt_readiness_events(mgmt, "c-chat", NULL, &events);
    CHECK(st == IK_OK && events != NULL, "readiness stream opens");
    int n = 0, saw_ready = 0;
    while (events && (st = ik_stream_next(events, &out)) == IK_OK && out) {
        n++;
        saw_ready |= has(out, "\"phase\":\"ready\"");
        ik_string_free(out);
        out = NULL;
    }
    CHECK(st == IK_OK && n >= 1 && saw_ready, "readiness stream ends at ready");
    st = events ? ik_stream_next(events, &out) : IK_ERR_INTERNAL;
    CHECK(st == IK_OK && out == NULL, "an ended stream stays ended");
    ik_stream_free(events);
}

static ik_endpoint *chat;

struct worker {
    int ok;
};

static void *concurrent_generate(void *arg) {
    struct worker *w = arg;
    char *out = NULL;
    ik_status st = ik_endpoint_generate_text(chat, "{\"prompt\": \"hi from a thread\"}", &out);
    w->ok = st == IK_OK && has(out, "\"text\":\"");
    ik_string_free(out);
    return NULL;
}

static void test_data(void) {
    ik_data_client *data = NULL;
    ik_status st = ik_data_client_new(NULL, &data);
    CHECK(st == IK_OK && data != NULL, "data client from the environment");
    if (!data) {
        return;
    }
    char *out = NULL;

    char opts[512];
    snprintf(opts, sizeof opts, "{\"api_key\": \"%s\"}", getenv("INFERENCEKEY_SDK_TOKEN"));
    ik_endpoint *ep = NULL;
    st = ik_data_client_endpoint(data, "c-chat", opts, &ep);
    expect_error(st, IK_ERR_PERMISSION_DENIED, "api_key", "wrong_credential_type", NULL,
                 "control token on the data plane");
    st = ik_data_client_endpoint(data, BAD_UTF8, NULL, &ep);
    expect_error(st, IK_ERR_INVALID_ARGUMENT, "workload", NULL, NULL, "non-UTF-8 workload");

    st = ik_data_client_endpoint(data, "c-chat", NULL, &chat);
    CHECK(st == IK_OK && chat != NULL, "endpoint");
    if (!chat) {
        ik_data_client_free(data);
        return;
    }
    st = ik_endpoint_base_url(chat, &out);
    CHECK(st == IK_OK && has(out, "/endpoint/") && has(out, "/c-chat/v1"), "base url");
    ik_string_free(out);
    out = NULL;

    st = ik_endpoint_generate_text(chat, "{\"prompt\": \"Hola\", \"max_tokens\": 16}", &out);
    CHECK(st == IK_OK && has(out, "\"text\":\"") && has(out, "\"raw\":{"), "generate_text");
    ik_string_free(out);
    out = NULL;
    st = ik_endpoint_generate_text(
        chat, "{\"messages\": [{\"role\": \"user\", \"content\": \"Hola\"}], \"seed\": 1}", &out);
    CHECK(st == IK_OK && has(out, "\"finish_reason\""), "generate_text with messages");
    ik_string_free(out);
    out = NULL;
    st = ik_endpoint_generate_text(
        chat, "{\"prompt\": \"a\", \"messages\": [{\"role\": \"user\", \"content\": \"b\"}]}",
        &out);
    expect_error(st, IK_ERR_VALIDATION, "prompt", NULL, NULL, "prompt and messages");
    st = ik_endpoint_generate_text(chat, "{\"prompt\": \"a\", \"temprature\": 0.2}", &out);
    expect_error(st, IK_ERR_VALIDATION, "temprature", NULL, NULL, "typo in request");
    /* Unknown keys are all listed; of the wrong values, the first (serde stops there). */
    st = ik_endpoint_generate_text(chat, "{\"prompt\": 7, \"bogus\": 1}", &out);
    expect_error(st, IK_ERR_VALIDATION, "bogus", NULL, "\"field\":\"prompt\"", "wrong types");
    /* The parameters added to the core's TextRequest, with no change here but this test. */
    st = ik_endpoint_generate_text(
        chat,
        "{\"prompt\": \"Hola\", \"max_tokens\": 4, \"frequency_penalty\": 0.5, "
        "\"presence_penalty\": -0.5, \"logprobs\": true, \"n\": 1, \"user\": \"u-42\"}",
        &out);
    CHECK(st == IK_OK && has(out, "\"logprobs\":{\"content\":[]}"), "new chat parameters");
    ik_string_free(out);
    out = NULL;
    st = ik_endpoint_generate_text(chat, "{\"prompt\": \"Hola\", \"n\": 2}", &out);
    expect_error(st, IK_ERR_VALIDATION, "n", NULL, NULL, "n reaches the engine");
    st = ik_endpoint_generate_text(chat, "{\"prompt\": \"Hola\", \"frequency_penalty\": 3}", &out);
    expect_error(st, IK_ERR_VALIDATION, "frequency_penalty", NULL, NULL,
                 "frequency_penalty reaches the engine");
    st = ik_endpoint_generate_text(chat, BAD_UTF8, &out);
    expect_error(st, IK_ERR_INVALID_ARGUMENT, "request_json", NULL, NULL, "non-UTF-8 request");

    /* Streaming: read to the end, then stop one early. */
    ik_stream *s = NULL;
    st = ik_endpoint_generate_text_stream(chat, "{\"prompt\": \"Tell me a story\"}", &s);
    CHECK(st == IK_OK && s != NULL, "stream opens");
    int chunks = 0, finished = 0;
    size_t text_len = 0;
    while (s && (st = ik_stream_next(s, &out)) == IK_OK && out) {
        chunks++;
        text_len += strlen(out);
        finished |= has(out, "\"finish_reason\":\"");
        ik_string_free(out);
        out = NULL;
    }
    CHECK(st == IK_OK && chunks >= 2 && finished && text_len > 0, "stream to [DONE]");
    ik_stream_free(s);
    s = NULL;
    st = ik_endpoint_generate_text_stream(chat, "{\"prompt\": \"Tell me a story\"}", &s);
    st = s ? ik_stream_next(s, &out) : st;
    CHECK(st == IK_OK && out != NULL, "first chunk");
    ik_string_free(out);
    out = NULL;
    ik_stream_free(s);
    st = ik_endpoint_generate_text_stream(chat, "{}", &s);
    expect_error(st, IK_ERR_VALIDATION, "prompt", NULL, NULL, "stream without prompt");

    /* One endpoint, many threads. */
    pthread_t threads[4];
    struct worker workers[4];
    for (int i = 0; i < 4; i++) {
        workers[i].ok = 0;
        pthread_create(&threads[i], NULL, concurrent_generate, &workers[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(workers[i].ok, "concurrent generate_text");
    }

    /* Embeddings on the embedding workload. */
    ik_endpoint *emb = NULL;
    st = ik_data_client_endpoint(data, "c-embed", NULL, &emb);
    CHECK(st == IK_OK, "embedding endpoint");
    st = ik_endpoint_embed(emb, "{\"input\": [\"a\", \"b\"]}", &out);
    CHECK(st == IK_OK && has(out, "\"embeddings\":[[") && has(out, "],["), "embed two inputs");
    ik_string_free(out);
    out = NULL;
    st = ik_endpoint_embed(emb, "{\"input\": 3}", &out);
    expect_error(st, IK_ERR_VALIDATION, "input", NULL, NULL, "embed input type");
    st = ik_endpoint_rerank(emb, "{\"query\": \"q\", \"documents\": [\"x\", \"yy\"], \"top_n\": 1}",
                            &out);
    CHECK(st == IK_OK && has(out, "\"results\":[{") && has(out, "\"relevance_score\""),
          "rerank");
    ik_string_free(out);
    out = NULL;
    st = ik_endpoint_rerank(emb, "{\"documents\": \"x\"}", &out);
    expect_error(st, IK_ERR_VALIDATION, "documents", NULL, "must be a list", "rerank shape");
    st = ik_endpoint_rerank(emb, "{\"documents\": []}", &out);
    expect_error(st, IK_ERR_VALIDATION, "query", NULL, "is required", "rerank needs a query");
    ik_endpoint_free(emb);

    /* Jobs. */
    st = ik_endpoint_submit_job(
        chat, "{\"kind\": \"chat\", \"body\": {\"messages\": [{\"role\": \"user\", "
              "\"content\": \"hi\"}]}, \"context\": {\"ticket\": 7}}",
        &out);
    CHECK(st == IK_OK && out != NULL && strlen(out) > 0, "submit job");
    char job_id[128] = "";
    if (out) {
        snprintf(job_id, sizeof job_id, "%s", out);
    }
    ik_string_free(out);
    out = NULL;
    st = ik_endpoint_job_status(chat, job_id, NULL, &out);
    CHECK(st == IK_OK && has(out, "\"job_id\":\"") && has(out, "\"status\":\""), "job status");
    ik_string_free(out);
    out = NULL;
    st = ik_endpoint_wait_job(chat, job_id, "{\"timeout\": 60}", &out);
    CHECK(st == IK_OK && has(out, "\"status\":\"succeeded\""), "wait job");
    ik_string_free(out);
    out = NULL;
    st = ik_endpoint_submit_job(chat, "{\"kind\": \"chat\", \"body_b64\": \"aGk=\"}", &out);
    expect_error(st, IK_ERR_VALIDATION, "content_type", NULL, NULL, "b64 without type");
    st = ik_endpoint_submit_job(chat, "{\"kind\": \"teleport\", \"body\": {}}", &out);
    expect_error(st, IK_ERR_VALIDATION, "kind", NULL, "chat", "unknown job kind");
    st = ik_endpoint_job_status(chat, "../etc", NULL, &out);
    expect_error(st, IK_ERR_VALIDATION, "job_id", NULL, NULL, "bad job id");
    st = ik_endpoint_job_status(chat, "no-such-job", NULL, &out);
    expect_error(st, IK_ERR_NOT_FOUND, NULL, NULL, NULL, "unknown job");

    /* A well-formed key the Manager never issued. */
    ik_endpoint *bad = NULL;
    st = ik_data_client_endpoint(data, "c-chat", "{\"api_key\": \"ik_live_abcdefgh_notissued\"}",
                                 &bad);
    CHECK(st == IK_OK, "endpoint with an unknown key (no request yet)");
    st = ik_endpoint_generate_text(bad, "{\"prompt\": \"hi\"}", &out);
    expect_error(st, IK_ERR_AUTH, NULL, NULL, "\"http_status\":401", "unknown key");
    char *e = ik_last_error_json();
    CHECK(e != NULL && strstr(e, "notissued") == NULL, "the unknown key is not echoed");
    ik_string_free(e);
    ik_endpoint_free(bad);

    /* An unreachable server. */
    ik_data_client *dead = NULL;
    st = ik_data_client_new("{\"base_url\": \"http://127.0.0.1:9\", \"project\": \"acme\", "
                            "\"max_retries\": 0, \"connect_timeout\": 2}",
                            &dead);
    CHECK(st == IK_OK, "client for a dead port");
    st = ik_data_client_endpoint(dead, "c-chat", NULL, &bad);
    CHECK(st == IK_OK, "endpoint for a dead port");
    st = ik_endpoint_generate_text(bad, "{\"prompt\": \"hi\"}", &out);
    expect_error(st, IK_ERR_CONNECTION, NULL, NULL, NULL, "connection refused");
    ik_endpoint_free(bad);
    ik_data_client_free(dead);

    ik_endpoint_free(chat);
    ik_data_client_free(data);
}

static void test_delete(void) {
    if (!mgmt) {
        return;
    }
    char *out = NULL;
    ik_status st = ik_mgmt_delete(mgmt, "c-embed", NULL);
    CHECK(st == IK_OK, "delete");
    st = ik_mgmt_get(mgmt, "c-embed", NULL, &out);
    expect_error(st, IK_ERR_NOT_FOUND, NULL, NULL, NULL, "gone after delete");
    st = ik_mgmt_delete(mgmt, "c-embed", "{\"timeout\": 5}");
    expect_error(st, IK_ERR_NOT_FOUND, NULL, NULL, NULL, "delete twice");
    st = ik_mgmt_delete(mgmt, "c-chat", NULL);
    CHECK(st == IK_OK, "delete chat");
    ik_mgmt_client_free(mgmt);
}

static void test_webhook(void) {
    static const char body[] = "{\"event\":\"job.completed\"}";
    static const char secret[] = "whsec_c_test_secret";
    const uint8_t *b = (const uint8_t *)body, *k = (const uint8_t *)secret;
    char *header = NULL;
    ik_status st = ik_webhook_sign(b, strlen(body), k, strlen(secret), 1700000000u, &header);
    CHECK(st == IK_OK && header != NULL && strncmp(header, "t=1700000000,v1=", 16) == 0,
          "webhook sign");
    st = ik_webhook_verify(b, strlen(body), header, k, strlen(secret), "{\"now\": 1700000010}");
    CHECK(st == IK_OK, "webhook verify");
    st = ik_webhook_verify(b, strlen(body) - 1, header, k, strlen(secret), "{\"now\": 1700000010}");
    expect_error(st, IK_ERR_VALIDATION, "X-InferenceKey-Signature", "invalid_signature", NULL,
                 "webhook tampered body");
    st = ik_webhook_verify(b, strlen(body), header, k, strlen(secret), "{\"now\": 1800000000}");
    expect_error(st, IK_ERR_VALIDATION, "X-InferenceKey-Signature", "signature_expired", NULL,
                 "webhook stale timestamp");
    char *e = ik_last_error_json();
    CHECK(e != NULL && strstr(e, secret) == NULL, "the webhook secret is not echoed");
    ik_string_free(e);
    ik_string_free(header);
}

int main(void) {
    const char *vars[] = {"INFERENCEKEY_BASE_URL", "INFERENCEKEY_PROJECT",
                          "INFERENCEKEY_SDK_TOKEN", "INFERENCEKEY_API_KEY"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        if (!getenv(vars[i])) {
            fprintf(stderr, "%s is not set; run scripts/test-capi\n", vars[i]);
            return 2;
        }
    }
    test_static_and_errors();
    test_management();
    test_data();
    test_delete();
    test_webhook();
    CHECK(ik_live_handles() == 0, "every handle was freed (ik_live_handles)");
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
