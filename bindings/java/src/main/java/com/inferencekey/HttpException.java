package com.inferencekey;

/** Thrown when any other HTTP error status. */
public class HttpException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    HttpException(ErrorInfo e) { super(e); }
}
