//! callhost-media (placeholder until the media layer lands).
