//! Issuing side.
