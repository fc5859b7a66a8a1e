package com.inferencekey;

/** Thrown when 401: the token is missing, malformed, unknown, revoked or expired. */
public class AuthException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    AuthException(ErrorInfo e) { super(e); }
}
