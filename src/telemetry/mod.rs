//! Logs and metrics.

mod backends;
mod logging;
mod metrics;

pub use self::backends::{counted_database, counted_ephemeral};
pub use self::logging::init_logging;
pub use self::metrics::{
    BackendFailure, HTTP_METHODS, Metrics, OTHER_METHOD, Reuse, SignIn, UNMATCHED_ROUTE,
};
