//! Placeholder: being written (SSE decoder).
