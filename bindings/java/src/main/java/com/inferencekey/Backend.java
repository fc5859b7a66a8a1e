package com.inferencekey;

import com.fasterxml.jackson.annotation.JsonValue;

/** The serving engine (wire: {@code ollama}, {@code vllm}, ...). A spec takes any string too, for engines this version does not list. */
public enum Backend {
    OLLAMA("ollama"),
    VLLM("vllm"),
    VLLM_OMNI("vllm-omni"),
    SGLANG("sglang"),
    LLAMACPP("llamacpp"),
    STABLEDIFFUSIONCPP("stablediffusioncpp");

    private final String wire;

    Backend(String wire) { this.wire = wire; }

    /** The wire string. */
    @JsonValue
    public String wire() { return wire; }

    /** The constant whose wire string is {@code wire}. */
    public static Backend fromWire(String wire) {
        for (Backend v : values()) if (v.wire.equals(wire)) return v;
        throw new IllegalArgumentException("not a Backend: " + wire);
    }
}
