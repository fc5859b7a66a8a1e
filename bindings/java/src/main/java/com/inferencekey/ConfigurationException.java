package com.inferencekey;

/**
 * Local misconfiguration, found before any request: a missing token or project, a secret in a
 * spec, a bad option, a native library that cannot be found. {@link #field()} names the culprit
 * when there is one.
 */
public class ConfigurationException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    ConfigurationException(ErrorInfo e) { super(e); }

    ConfigurationException(String code, String field, String message) {
        super(ErrorInfo.local(ErrorKind.CONFIGURATION, code, field, "configuration error: " + message));
    }
}
