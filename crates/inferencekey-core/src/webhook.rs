//! Placeholder: being written (webhook signatures).
