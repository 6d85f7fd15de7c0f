//! Verifying side.
