package com.inferencekey;

/** Thrown when the server answered something the SDK cannot use: a stream cut short before {@code [DONE]}, an undecodable body, an oversized event. */
public class ProtocolException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    ProtocolException(ErrorInfo e) { super(e); }
}
