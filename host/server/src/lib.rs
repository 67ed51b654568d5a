//! callhost server library.
