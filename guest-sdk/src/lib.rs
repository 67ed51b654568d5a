//! callhost-sdk (placeholder).
