package com.inferencekey;

/** Thrown when 404: the workload, project or job does not exist or is not visible to this token. */
public class NotFoundException extends InferenceKeyException {
    private static final long serialVersionUID = 1L;

    NotFoundException(ErrorInfo e) { super(e); }
}
