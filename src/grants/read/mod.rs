//! Reads of the register as the admin module, the API and the command line list them, one file
//! per thing they list: grants, members, organisations, people, invitations, link requests and
//! bevoegd vertegenwoordigers.
//! What they return are the view types of [`super::views`].
//!
//! Reads are apart from writes so that each can be read alone: a write may read back what it
//! wrote the way a listing shows it (a link request, say), but no read calls a write. Listings
//! that may be long (an organisation's 100,000 grants, 10,000 members) are filtered, counted and
//! paged by the database, never in memory.

pub mod grants;
pub mod invitations;
pub mod links;
pub mod members;
pub mod mine;
pub mod organisations;
pub mod people;
pub mod representatives;
pub mod requests;

pub use grants::GrantFilter;
pub use members::MemberQuery;
