//! meshtop's own result, as saved in the results directory.

use color_eyre::eyre::{Result, WrapErr};

use crate::model::bench::BenchResult;

pub fn render(result: &BenchResult) -> Result<String> {
    let mut s = serde_json::to_string_pretty(result).wrap_err("serialising the result")?;
    s.push('\n');
    Ok(s)
}
