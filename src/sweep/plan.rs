//! What a sweep runs. Built from the command line or a YAML experiment file; every value is
//! checked here, so a bad plan sends nothing.

use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use crate::bench::config::{BenchConfig, BenchSpec, TlsFiles, default_for};
use crate::input::{self, Bounds};

/// One route to the service: `NAME=URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub url: String,
}

/// What the steps vary.
#[derive(Debug, Clone, PartialEq)]
pub enum Varies {
    Connections(Vec<u32>),
    Rates(Vec<f64>),
}

impl Varies {
    pub fn name(&self) -> &'static str {
        match self {
            Varies::Connections(_) => "connections",
            Varies::Rates(_) => "rate",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Varies::Connections(v) => v.len(),
            Varies::Rates(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SweepPlan {
    pub targets: Vec<Target>,
    pub baseline: String,
    pub varies: Varies,
    /// Connections of a rate sweep.
    pub connections: u32,
    /// Rate of a connections sweep (0 = closed loop).
    pub rate: f64,
    pub duration: Duration,
    /// Whether runs end after `duration` (unless only `requests` bounds them).
    pub timed: bool,
    /// Stop each run after this many requests (`-n`, as in `bench`).
    pub requests: Option<u64>,
    pub warmup: Duration,
    pub repeat: u32,
    pub cooldown: Duration,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub http2: bool,
    pub timeout: Duration,
    /// `--threads`; None: each target's default (`bench::config::default_threads`).
    pub threads: Option<u32>,
    pub insecure: bool,
    pub tls: TlsFiles,
    pub label: Option<String>,
}

/// Most runs a sweep may plan (steps x targets x repeats): a typo in a list is not a week of load.
pub const MAX_RUNS: usize = 1000;

/// Parses `NAME=URL`.
pub fn target(s: &str) -> Result<Target, String> {
    let (name, url) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=URL (e.g. direct=http://10.0.0.5:8080/)"))?;
    let name = name.trim();
    check_name(name).map_err(|e| format!("{s:?}: {e}"))?;
    let url = url.trim();
    if url.is_empty() {
        return Err(format!("{s:?}: no URL after '='"));
    }
    Ok(Target {
        name: name.to_string(),
        url: url.to_string(),
    })
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("no name before '='".into());
    }
    if name.chars().count() > 40 || !name.chars().all(|c| c.is_alphanumeric() || "._-".contains(c)) {
        return Err(format!(
            "target name {name:?}: letters, digits, '.', '_' and '-', at most 40"
        ));
    }
    Ok(())
}

/// `8,16,32,100`: connections per step, each 1 to 100,000.
pub fn connections_list(s: &str) -> Result<Vec<u32>, String> {
    list(s, |p| input::count(p, 1, 100_000).map(|n| n as u32))
}

/// `100,500,1000`: requests/s per step, each more than 0.
pub fn rates_list(s: &str) -> Result<Vec<f64>, String> {
    list(s, |p| {
        let v = input::number(p, 0.0)?;
        if v == 0.0 {
            return Err(format!(
                "{p:?}: a step's rate must be more than 0 (sweep connections for closed loops)"
            ));
        }
        Ok(v)
    })
}

fn list<T>(s: &str, one: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return Err(format!("no step in {s:?} (e.g. 8,16,32,100)"));
    }
    parts.into_iter().map(one).collect()
}

/// A YAML experiment file (`meshtop sweep -f FILE`); flags given on the command line win.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    #[serde(default)]
    pub targets: Vec<ExperimentTarget>,
    pub baseline: Option<String>,
    pub connections: Option<ListOrOne<u32>>,
    pub rates: Option<ListOrOne<f64>>,
    /// Fixed rate of a connections sweep (requests/s, 0 = closed loop).
    pub rate: Option<f64>,
    pub duration: Option<String>,
    /// Requests per run.
    pub requests: Option<u64>,
    pub warmup: Option<String>,
    pub cooldown: Option<String>,
    pub repeat: Option<u32>,
    pub http2: Option<bool>,
    pub method: Option<String>,
    #[serde(default)]
    pub headers: Vec<String>,
    pub timeout: Option<String>,
    pub label: Option<String>,
    pub max_slowdown: Option<String>,
    pub max_added: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentTarget {
    pub name: String,
    pub url: String,
}

/// A list, or one value for a single step.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ListOrOne<T> {
    List(Vec<T>),
    One(T),
}

impl<T: Clone> ListOrOne<T> {
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            ListOrOne::List(v) => v.clone(),
            ListOrOne::One(v) => vec![v.clone()],
        }
    }
}

impl Experiment {
    pub fn parse(text: &str) -> Result<Experiment, String> {
        let e: Experiment = serde_yaml::from_str(text).map_err(|e| e.to_string().replace('\n', " "))?;
        for t in &e.targets {
            check_name(t.name.trim()).map_err(|m| format!("targets: {m}"))?;
        }
        Ok(e)
    }
}

/// Parses an experiment file's duration field, naming it in the error.
pub fn field_duration(field: &str, value: &Option<String>, bounds: Bounds) -> Result<Option<Duration>, String> {
    value
        .as_deref()
        .map(|v| input::duration(v, bounds).map_err(|e| format!("{field}: {e}")))
        .transpose()
}

impl SweepPlan {
    /// The defaults of `meshtop sweep` for these targets and steps.
    pub fn new(targets: Vec<Target>, varies: Varies) -> SweepPlan {
        let baseline = targets.first().map(|t| t.name.clone()).unwrap_or_default();
        SweepPlan {
            targets,
            baseline,
            varies,
            connections: 50,
            rate: 0.0,
            duration: Duration::from_secs(30),
            timed: true,
            requests: None,
            warmup: Duration::from_secs(5),
            repeat: 1,
            cooldown: Duration::from_secs(2),
            method: "GET".into(),
            headers: Vec::new(),
            body: Bytes::new(),
            http2: false,
            timeout: Duration::from_secs(10),
            threads: None,
            insecure: false,
            tls: Default::default(),
            label: None,
        }
    }

    /// Runs in the plan.
    pub fn runs(&self) -> usize {
        self.varies.len() * self.targets.len() * self.repeat as usize
    }

    /// Everything that can be checked without the network.
    pub fn validate(&self) -> Result<(), String> {
        if self.targets.is_empty() {
            return Err("no target: give --target NAME=URL (the first is the baseline)".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for t in &self.targets {
            if !seen.insert(t.name.as_str()) {
                return Err(format!("target name {:?} is given twice", t.name));
            }
        }
        if !seen.contains(self.baseline.as_str()) {
            let names: Vec<&str> = self.targets.iter().map(|t| t.name.as_str()).collect();
            return Err(format!(
                "--baseline {:?} is not one of the targets ({})",
                self.baseline,
                names.join(", ")
            ));
        }
        if self.varies.is_empty() {
            return Err("no step: give --connections 8,16,32 or --rates 100,500".into());
        }
        if self.repeat == 0 || self.repeat > 100 {
            return Err(format!("--repeat {}: between 1 and 100", self.repeat));
        }
        if self.runs() > MAX_RUNS {
            return Err(format!(
                "{} steps x {} targets x {} repeats is {} runs; at most {MAX_RUNS}",
                self.varies.len(),
                self.targets.len(),
                self.repeat,
                self.runs()
            ));
        }
        // Every run's config as the load generator will check it (URL, headers, rate vs
        // duration), named by target and step.
        for (step, _, target) in self.order() {
            self.config(step, target).validate().map_err(|e| {
                format!(
                    "target {:?}, {}: {e:#}",
                    self.targets[target].name,
                    self.step_name(step)
                )
            })?;
        }
        Ok(())
    }

    /// (step, repeat, target) in the order they run: each step runs every target in turn,
    /// repeat after repeat, so drift over time hits all targets alike.
    pub fn order(&self) -> impl Iterator<Item = (usize, u32, usize)> + '_ {
        (0..self.varies.len())
            .flat_map(move |s| (0..self.repeat).flat_map(move |r| (0..self.targets.len()).map(move |t| (s, r, t))))
    }

    pub fn step_connections(&self, step: usize) -> u32 {
        match &self.varies {
            Varies::Connections(c) => c.get(step).copied().unwrap_or(self.connections),
            Varies::Rates(_) => self.connections,
        }
    }

    pub fn step_rate(&self, step: usize) -> f64 {
        match &self.varies {
            Varies::Rates(r) => r.get(step).copied().unwrap_or(self.rate),
            Varies::Connections(_) => self.rate,
        }
    }

    pub fn step_name(&self, step: usize) -> String {
        match &self.varies {
            Varies::Connections(_) => format!("c={}", self.step_connections(step)),
            Varies::Rates(_) => format!("{} rps", crate::model::sweep::trim_number(self.step_rate(step))),
        }
    }

    /// Threads when `--threads` is not given: one count for every target, so that they
    /// are measured alike (`bench::config::default_for`).
    pub fn default_threads(&self) -> (u32, String) {
        let urls: Vec<&str> = self.targets.iter().map(|t| t.url.as_str()).collect();
        default_for(&urls)
    }

    /// The load generator's config for one run.
    pub fn config(&self, step: usize, target: usize) -> BenchConfig {
        let t = &self.targets[target];
        BenchConfig {
            spec: BenchSpec {
                url: t.url.clone(),
                method: self.method.clone(),
                headers: self.headers.clone(),
                connections: self.step_connections(step),
                streams: 1,
                threads: self.threads.unwrap_or_else(|| self.default_threads().0),
                threads_note: self.threads.is_none().then(|| self.default_threads().1),
                rate: self.step_rate(step),
                ramp: Vec::new(),
                duration: self.timed.then_some(self.duration),
                requests: self.requests,
                warmup: self.warmup,
                timeout: self.timeout,
                http2: self.http2,
                insecure: self.insecure,
                tls: self.tls.clone(),
                label: Some(format!("{}-{}", t.name, self.step_name(step).replace([' ', '='], ""))),
            },
            body: self.body.clone(),
            shown: None,
            program_version: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> SweepPlan {
        SweepPlan::new(
            vec![
                target("direct=http://127.0.0.1:1/").unwrap(),
                target("mesh=http://127.0.0.1:2/").unwrap(),
            ],
            Varies::Connections(vec![8, 16]),
        )
    }

    #[test]
    fn targets_and_lists() {
        assert_eq!(
            target(" direct = http://a:1/x?y=z ").unwrap(),
            Target {
                name: "direct".into(),
                url: "http://a:1/x?y=z".into()
            }
        );
        for bad in ["http://a/", "=http://a/", "a b=http://x/", "x=", "ünï/x=http://a/"] {
            assert!(target(bad).is_err(), "{bad}");
        }
        assert_eq!(connections_list("8, 16,32,100").unwrap(), [8, 16, 32, 100]);
        assert!(connections_list("8,0").is_err());
        assert!(connections_list(" , ").is_err());
        assert_eq!(rates_list("100,2.5").unwrap(), [100.0, 2.5]);
        assert!(rates_list("100,0").is_err());
        assert!(rates_list("1e400").is_err());
    }

    #[test]
    fn runs_interleave_targets_within_each_step() {
        let mut p = plan();
        p.repeat = 2;
        let order: Vec<_> = p.order().collect();
        assert_eq!(
            order,
            [
                (0, 0, 0),
                (0, 0, 1),
                (0, 1, 0),
                (0, 1, 1),
                (1, 0, 0),
                (1, 0, 1),
                (1, 1, 0),
                (1, 1, 1)
            ]
        );
        assert_eq!(p.config(1, 1).spec.connections, 16);
        assert_eq!(p.config(1, 1).spec.url, "http://127.0.0.1:2/");
        assert_eq!(p.config(1, 1).spec.label.as_deref(), Some("mesh-c16"));
    }

    #[test]
    fn bad_plans_name_the_culprit() {
        let mut p = plan();
        p.targets.push(target("mesh=http://x/").unwrap());
        assert_eq!(p.validate().unwrap_err(), "target name \"mesh\" is given twice");
        let mut p = plan();
        p.baseline = "nope".into();
        assert!(
            p.validate()
                .unwrap_err()
                .contains("--baseline \"nope\" is not one of the targets (direct, mesh)")
        );
        let mut p = plan();
        p.varies = Varies::Connections(vec![]);
        assert!(p.validate().unwrap_err().starts_with("no step"));
        let mut p = plan();
        p.targets[1].url = "ftp://x/".into();
        assert!(
            p.validate()
                .unwrap_err()
                .starts_with("target \"mesh\", c=8: invalid URL")
        );
        let mut p = plan();
        p.varies = Varies::Rates(vec![0.001]);
        p.duration = Duration::from_secs(1);
        assert!(
            p.validate().unwrap_err().starts_with("target \"direct\", 0.001 rps:"),
            "{:?}",
            p.validate()
        );
        assert!(plan().validate().is_ok());
    }

    #[test]
    fn experiment_files() {
        let e = Experiment::parse(
            "targets:\n  - {name: direct, url: 'http://a/'}\n  - {name: mesh, url: 'http://b/'}\nconnections: [8, 16]\nduration: 10s\nrepeat: 3\n",
        )
        .unwrap();
        assert_eq!(e.targets.len(), 2);
        assert_eq!(e.connections.unwrap().to_vec(), [8, 16]);
        assert_eq!(
            field_duration("duration", &e.duration, Bounds::RUN).unwrap(),
            Some(Duration::from_secs(10))
        );
        assert!(Experiment::parse("targets: 3").is_err());
        assert!(Experiment::parse("conections: [8]").unwrap_err().contains("conections"));
        assert_eq!(
            field_duration("warmup", &Some("-5s".into()), Bounds::OFFSET).unwrap_err(),
            "warmup: \"-5s\" is negative (e.g. 30s, 1m30s, 1.5m, 250ms, 2h, 1d, or a number of seconds)"
        );
    }
}
