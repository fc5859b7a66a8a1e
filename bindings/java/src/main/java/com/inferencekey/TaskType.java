package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonValue;

/** The modality a workload serves ({@code task_type}); the default is {@link #TEXT2TEXT}. A spec takes any string too. */
public enum TaskType {
    TEXT2TEXT("text2text"),
    EMBEDDING("embedding"),
    TEXT2IMAGE("text2image"),
    TEXT2VIDEO("text2video"),
    TEXT2AUDIO("text2audio"),
    IMAGE2IMAGE("image2image"),
    IMAGE2VIDEO("image2video"),
    AUDIO2TEXT("audio2text"),
    OMNI("omni"),
    RERANKER("reranker"),
    CLASSIFICATION("classification"),
    REWARD("reward"),
    FORECAST("forecast");

    private final String wire;

    TaskType(String wire) { this.wire = wire; }

    /** The wire string. */
    @JsonValue
    public String wire() { return wire; }

    /** The constant whose wire string is {@code wire}. */
    public static TaskType fromWire(String wire) {
        for (TaskType v : values()) if (v.wire.equals(wire)) return v;
        throw new IllegalArgumentException("not a TaskType: " + wire);
    }
}
