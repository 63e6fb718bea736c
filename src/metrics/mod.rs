//! Metrics: exposition parsing (zero-copy), golden signals, quantiles and PromQL.

pub mod exposition;
pub mod golden;
pub mod promql;
pub mod quantile;
pub mod quantity;
pub mod report;
pub mod window;
