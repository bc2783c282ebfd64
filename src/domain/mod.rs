//! The domain: what a login and a grant are, and the decision between them.
//!
//! The bottom layer of poort. Nothing here imports any other module of poort, does I/O or reads
//! the clock (`now` is always an argument), so every rule can be read and tested on its own;
//! `tests/architecture.rs` fails when that changes.
//!
//! - [`level`]: levels of assurance (EH2 < EH2+ < EH3 < EH4) and their URIs.
//! - [`identifiers`]: KvK number, RSIN and vestigingsnummer checks, and which of them a service
//!   is given.
//! - [`attributes`]: attributes asked for and asserted, and which a service gets.
//! - [`login`]: the values every login is made of, whatever the protocols
//!   ([`login::AuthnIntent`], [`login::AuthnResult`]).
//! - [`grant`]: the grant model as the decision reads it (organisations, roles, scopes, held
//!   grants, identity links) and the validity limit.
//! - [`decision`]: the decision, one pure function over its whole table.
//! - [`request`]: requests for a grant, a link or a renewal, and who may sign them off.
//! - [`representative`]: bevoegd vertegenwoordigers and the rule that recognises one at login.

pub mod attributes;
pub mod decision;
pub mod grant;
pub mod identifiers;
pub mod level;
pub mod login;
pub mod representative;
pub mod request;
pub mod session;
