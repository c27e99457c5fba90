//! Gigs over GraphQL: the `Gig` type and its parts, the catalogue queries and the owner's
//! mutations. The enums and input objects are the model's and the service's own types.

mod gig;
mod mutation;
mod query;

pub use gig::{Gig, GigMedia, GigPackage, Rating};
pub use mutation::GigMutation;
pub use query::GigQuery;

/// The schema's `PackageTier`, defined with the package rows (order inputs name it here).
pub use super::model::PackageTier;
