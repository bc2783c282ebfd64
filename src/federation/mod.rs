//! Signed metadata aggregates (`md:EntitiesDescriptor`) as the scheme publishes them: the
//! Beheerorganisatie's network metadata of ADs (page *Network metadata*) and DVs' own signed
//! metadata (page *Metadata for participants*), each verified against a configured certificate
//! before use, honoured for `validUntil` and `cacheDuration`, and never replaced by an older
//! edition (the sequence in its `Name`).

mod live;
mod name;
mod verify;

pub use live::{spawn_refresh, LiveMetadata, RefreshError, Refreshed};
pub use name::{parse_duration, AggregateName};
pub use verify::{verify, AggregateError, Verified, MAX_AGGREGATE_BYTES};
