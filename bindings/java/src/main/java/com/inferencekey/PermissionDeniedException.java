package com.inferencekey;

/** Thrown when 403, or a token used on the wrong plane; {@link #code()} says which ({@code wrong_credential_type}, {@code project_scope_mismatch}, {@code scope_insufficient}). */
public class PermissionDeniedException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    PermissionDeniedException(ErrorInfo e) { super(e); }
}
