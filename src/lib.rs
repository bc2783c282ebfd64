//! poort: an identity broker between service providers (DV) and identity providers (AD).
//!
//! See `ARCHITECTURE.md` for the bird's-eye view and the codemap.

pub mod config;
pub mod devcerts;
pub mod level;
pub mod metadata;
