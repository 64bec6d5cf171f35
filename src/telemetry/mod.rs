//! Logs and metrics.

mod logging;
mod metrics;

pub use self::logging::init_logging;
pub use self::metrics::Metrics;
