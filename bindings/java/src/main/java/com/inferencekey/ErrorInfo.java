package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/** The JSON of {@code ik_last_error_json()}, as the ABI documents it (snake_case keys). */
@JsonIgnoreProperties(ignoreUnknown = true)
record ErrorInfo(
        Integer status,
        @JsonProperty("kind") String kindName,
        Integer httpStatus,
        String code,
        String message,
        String display,
        String field,
        List<InferenceKeyException.Problem> problems,
        String requestId,
        java.util.Map<String, String> headers,
        Double retryAfter,
        List<Change> plan) {

    ErrorKind kind() { return ErrorKind.of(kindName); }

    /** A locally made error (binding misuse, library not found). */
    static ErrorInfo local(ErrorKind kind, String code, String field, String display) {
        return new ErrorInfo(null, kind.wire(), null, code, display, display, field, List.of(), null, java.util.Map.of(), null, List.of());
    }

    InferenceKeyException toException() { return kind().exception(this); }
}
