//! Metrics: exposition parsing (zero-copy), and later the maths on top of it.

pub mod exposition;
pub mod golden;
pub mod quantile;
pub mod quantity;
pub mod report;
