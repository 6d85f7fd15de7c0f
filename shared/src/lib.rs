//! Residence-permit model and credential format.
