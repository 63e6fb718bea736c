//! Benchmarks in the TUI: the runs of this session as the fold knows them, the form that
//! builds a run's configuration, and where a pod or service can be reached from here.
//! Pure: the engine runs in `run.rs`, and only its updates come back here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::state::{PodEntry, State};
use crate::bench::BenchConfig;
use crate::model::bench::{BenchProgress, BenchResult, BenchSpec};
use crate::model::{ServiceInfo, UnixMillis};

/// What a run measures, beyond its URL: the pods whose CPU and memory the panel shows
/// next to the latencies, and where the target came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BenchTarget {
    /// `pod ns/name`, `service ns/name`, `workload ns/name` or `url`.
    pub origin: String,
    /// (namespace, pod) of the pods serving the target, when known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<(String, String)>,
    /// Set for a run made by a sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<super::sweep::SweepRun>,
}

/// One run of the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchSession {
    pub id: u32,
    pub config: BenchSpec,
    pub target: BenchTarget,
    pub started: UnixMillis,
    pub progress: Option<BenchProgress>,
    pub result: Option<Box<BenchResult>>,
    /// Why the run could not start or stopped with an error.
    pub error: Option<String>,
    /// Summed CPU (millicores) and memory of the target pods at each usage sample during
    /// the run: (app cpu, proxy cpu, app mem, proxy mem).
    pub usage: Vec<(f64, f64, f64, f64)>,
    /// The target pods' usage readings with the windows they cover, taken while the run
    /// was measured and shortly after (readings arrive late): what a sweep's resources are
    /// computed from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<crate::model::sweep::UsageSample>,
    /// The share of the target pods' requests over mTLS when the run ended, as their
    /// proxies reported it over the rate window (None without proxy figures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtls: Option<f64>,
    /// An in-cluster run's agents, as last reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<crate::model::bench::AgentStatus>,
}

impl BenchSession {
    /// How the run is named on screen: `#2`, or `s1.3` for a sweep's third run (a sweep
    /// run's id is internal).
    pub fn name(&self) -> String {
        match self.target.sweep {
            Some(w) => format!("s{}.{}", w.sweep, w.index + 1),
            None => format!("#{}", self.id),
        }
    }

    pub fn running(&self) -> bool {
        self.result.is_none() && self.error.is_none()
    }

    pub fn status(&self) -> &'static str {
        match (&self.result, &self.error) {
            (Some(r), _) if r.cancelled => "stopped",
            (Some(_), _) => "done",
            (None, Some(_)) => "failed",
            (None, None) => "running",
        }
    }
}

/// The fields of the form, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Url,
    Mode,
    Rate,
    Connections,
    Duration,
    Http,
    Headers,
    Body,
    SweepSteps,
    Baseline,
    Agents,
}

pub const FIELDS: [Field; 11] = [
    Field::Url,
    Field::Mode,
    Field::Rate,
    Field::Connections,
    Field::Duration,
    Field::Http,
    Field::Headers,
    Field::Body,
    Field::SweepSteps,
    Field::Baseline,
    Field::Agents,
];

impl Field {
    pub fn label(self) -> &'static str {
        match self {
            Field::Url => "URL",
            Field::Mode => "mode",
            Field::Rate => "rate (req/s)",
            Field::Connections => "connections",
            Field::Duration => "duration",
            Field::Http => "HTTP version",
            Field::Headers => "headers",
            Field::Body => "body",
            Field::SweepSteps => "sweep steps",
            Field::Baseline => "baseline URL",
            Field::Agents => "agents",
        }
    }

    /// Fields chosen with space rather than typed.
    pub fn is_choice(self) -> bool {
        matches!(self, Field::Mode | Field::Http)
    }
}

/// The benchmark form: text per field, the focused field, and the last validation error.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchForm {
    pub values: BTreeMap<&'static str, String>,
    pub focus: usize,
    pub error: Option<String>,
    pub target: BenchTarget,
    /// Said under the URL: where this address works from.
    pub note: Option<String>,
}

pub const MODE_RATE: &str = "rate (open loop, latency corrected)";
pub const MODE_CONNECTIONS: &str = "connections (closed loop, as fast as possible)";

impl BenchForm {
    pub fn new(url: String, target: BenchTarget, note: Option<String>) -> Self {
        let mut values = BTreeMap::new();
        for (f, v) in [
            (Field::Url, url.as_str()),
            (Field::Mode, MODE_RATE),
            (Field::Rate, "100"),
            (Field::Connections, "10"),
            (Field::Duration, "30s"),
            (Field::Http, "1.1"),
            (Field::Headers, ""),
            (Field::Body, ""),
            (Field::SweepSteps, ""),
            (Field::Baseline, ""),
            (Field::Agents, ""),
        ] {
            values.insert(f.label(), v.to_string());
        }
        BenchForm {
            values,
            focus: 0,
            error: None,
            target,
            note,
        }
    }

    pub fn value(&self, f: Field) -> &str {
        self.values.get(f.label()).map_or("", String::as_str)
    }

    pub fn focused(&self) -> Field {
        FIELDS[self.focus]
    }

    pub fn type_char(&mut self, c: char) {
        let f = self.focused();
        if f.is_choice() {
            if c == ' ' {
                self.toggle();
            }
            return;
        }
        self.values.entry(f.label()).or_default().push(c);
        self.error = None;
    }

    pub fn backspace(&mut self) {
        let f = self.focused();
        if !f.is_choice() {
            self.values.entry(f.label()).or_default().pop();
        }
    }

    fn toggle(&mut self) {
        let f = self.focused();
        let next = match (f, self.value(f)) {
            (Field::Mode, MODE_RATE) => MODE_CONNECTIONS,
            (Field::Mode, _) => MODE_RATE,
            (Field::Http, "1.1") => "2",
            (Field::Http, _) => "1.1",
            _ => return,
        };
        self.values.insert(f.label(), next.to_string());
    }

    pub fn next(&mut self, forward: bool) {
        let n = FIELDS.len();
        self.focus = if forward {
            (self.focus + 1) % n
        } else {
            (self.focus + n - 1) % n
        };
    }

    /// The configuration the form describes, or what is wrong with it (nothing is sent).
    /// Each error starts with the field's label.
    pub fn config(&self) -> Result<BenchConfig, String> {
        use crate::input;
        let field = |f: Field, e: String| format!("{}: {e}", f.label());
        let url = self.value(Field::Url).trim();
        let mut c = BenchConfig::new(url);
        let s = &mut c.spec;
        if self.value(Field::Mode) == MODE_RATE {
            s.rate = input::number(self.value(Field::Rate), 0.0).map_err(|e| field(Field::Rate, e))?;
            if s.rate == 0.0 {
                return Err(
                    "rate (req/s): must be above 0 in rate mode (use connections mode for as fast as possible)".into(),
                );
            }
        } else {
            s.rate = 0.0;
        }
        s.connections = input::count(self.value(Field::Connections), 1, MAX_CONNECTIONS)
            .map_err(|e| field(Field::Connections, e))? as u32;
        s.duration = Some(
            input::duration(self.value(Field::Duration), input::Bounds::RUN).map_err(|e| field(Field::Duration, e))?,
        );
        s.http2 = self.value(Field::Http) == "2";
        s.headers = input::headers(self.value(Field::Headers)).map_err(|e| field(Field::Headers, e))?;
        let body = self.value(Field::Body);
        if !body.is_empty() {
            s.method = "POST".into();
            c.body = bytes::Bytes::from(body.to_string());
        }
        c.spec.label = Some(self.target.origin.clone()).filter(|o| o != "url");
        c.validate().map_err(|e| format!("{e:#}"))?;
        Ok(c)
    }
}

impl BenchForm {
    /// How many in-cluster agents send the load: None (empty or 0) sends it from this
    /// machine. The run's configuration must split over them.
    pub fn agents(&self, config: &BenchConfig) -> Result<Option<u32>, String> {
        let f = Field::Agents;
        let text = self.value(f).trim();
        if text.is_empty() || text == "0" {
            return Ok(None);
        }
        let n = crate::input::count(text, 1, 1000).map_err(|e| format!("{}: {e}", f.label()))? as u32;
        if !self.value(Field::SweepSteps).trim().is_empty() {
            return Err(format!(
                "{}: a sweep runs from this machine; clear the sweep steps or the agents",
                f.label()
            ));
        }
        for i in 0..n {
            loadgen::split::share(&config.spec, i, n).map_err(|e| format!("{}: {e}", f.label()))?;
        }
        Ok(Some(n))
    }

    /// The sweep the form describes, when its sweep steps are filled in: this URL (named
    /// `target`) at each step (connections, or rates in rate mode), after the baseline URL
    /// (named `baseline`) when there is one. None for a single run.
    pub fn sweep(&self) -> Result<Option<crate::sweep::SweepPlan>, String> {
        use crate::sweep::plan::{self, SweepPlan, Target, Varies};
        let steps = self.value(Field::SweepSteps).trim();
        if steps.is_empty() {
            return Ok(None);
        }
        let field = |f: Field, e: String| format!("{}: {e}", f.label());
        let rate_mode = self.value(Field::Mode) == MODE_RATE;
        // The steps are the rates: the single run's rate need not be filled in.
        let mut single = self.clone();
        if rate_mode {
            single.values.insert(Field::Rate.label(), "1".into());
        } else {
            single.values.insert(Field::Connections.label(), "1".into());
        }
        let c = single.config()?;
        let varies = if rate_mode {
            Varies::Rates(plan::rates_list(steps).map_err(|e| field(Field::SweepSteps, e))?)
        } else {
            Varies::Connections(plan::connections_list(steps).map_err(|e| field(Field::SweepSteps, e))?)
        };
        let mut targets = Vec::new();
        let baseline = self.value(Field::Baseline).trim();
        if !baseline.is_empty() {
            targets.push(Target {
                name: "baseline".into(),
                url: baseline.into(),
            });
        }
        targets.push(Target {
            name: "target".into(),
            url: c.spec.url.clone(),
        });
        let mut p = SweepPlan::new(targets, varies);
        p.connections = c.spec.connections;
        p.rate = 0.0;
        p.duration = c.spec.duration.unwrap_or(p.duration);
        p.warmup = c.spec.warmup;
        p.http2 = c.spec.http2;
        p.method = c.spec.method.clone();
        p.headers = c.spec.headers.clone();
        p.body = c.body.clone();
        // Errors in the plan name the form's fields, not the sweep's target names.
        p.validate().map_err(|e| {
            if let Some(rest) = e.strip_prefix("target \"baseline\", ") {
                format!("{}: {rest}", Field::Baseline.label())
            } else if let Some(rest) = e.strip_prefix("target \"target\", ") {
                // A step that cannot run (a rate too low) is the steps' fault, not the URL's.
                let field = if rest.to_ascii_lowercase().contains("url") {
                    Field::Url
                } else {
                    Field::SweepSteps
                };
                format!("{}: {rest}", field.label())
            } else {
                e
            }
        })?;
        Ok(Some(p))
    }
}

/// More connections than this is a typo, not a benchmark.
pub const MAX_CONNECTIONS: u64 = 100_000;

/// What a benchmark of a selection would use: the URL, its target (origin and pods), and a
/// note on where the URL can be reached from.
pub type Target = (String, BenchTarget, Option<String>);

/// A workload's first pod's address; all its pods count for CPU and memory.
pub fn workload_target(state: &State, namespace: &str, name: &str) -> Option<Target> {
    let pods: Vec<&PodEntry> = state
        .derived
        .workload_pods
        .get(&(namespace.to_string(), name.to_string()))
        .into_iter()
        .flatten()
        .filter_map(|pod| state.pods.get(&(namespace.to_string(), pod.clone())))
        .collect();
    let (url, _, note) = pod_target(pods.first()?);
    Some((
        url,
        BenchTarget {
            origin: format!("workload {namespace}/{name}"),
            sweep: None,
            pods: pods
                .iter()
                .map(|p| (p.info.namespace.clone(), p.info.name.clone()))
                .collect(),
        },
        note,
    ))
}

/// The URL and pods a benchmark of this pod would use: its IP and first TCP port.
pub fn pod_target(p: &PodEntry) -> Target {
    let port = p
        .info
        .containers_info
        .iter()
        .filter(|c| p.mesh.proxy.as_ref().is_none_or(|x| x.container != c.name))
        .flat_map(|c| c.ports.iter())
        .map(|port| port.port)
        .next()
        .unwrap_or(80);
    let ip = p.info.ip.clone().unwrap_or_else(|| "<no IP yet>".into());
    (
        format!("http://{ip}:{port}/"),
        BenchTarget {
            origin: format!("pod {}/{}", p.info.namespace, p.info.name),
            pods: vec![(p.info.namespace.clone(), p.info.name.clone())],
            sweep: None,
        },
        Some(IN_CLUSTER_NOTE.into()),
    )
}

pub const IN_CLUSTER_NOTE: &str = "a pod or ClusterIP address: reachable only from inside the cluster network. \
From outside, use an ingress, a NodePort or `kubectl port-forward`; never the API server's proxy, \
which would measure the API server.";

/// The URL and pods for a service: a load-balancer address when it has one, else its
/// ClusterIP; the pods are those its selector picks.
pub fn service_target(state: &State, s: &ServiceInfo) -> Target {
    let port = s.ports.iter().find(|p| p.protocol == "TCP").map_or(80, |p| p.port);
    let pods = state
        .pods
        .values()
        .filter(|p| {
            p.info.namespace == s.namespace
                && !s.selector.is_empty()
                && s.selector.iter().all(|(k, v)| p.info.labels.get(k) == Some(v))
                // Evicted and completed pods keep their labels but serve nothing.
                && !matches!(p.info.phase.as_str(), "Succeeded" | "Failed")
        })
        .map(|p| (p.info.namespace.clone(), p.info.name.clone()))
        .collect();
    let target = BenchTarget {
        origin: format!("service {}/{}", s.namespace, s.name),
        pods,
        sweep: None,
    };
    if let Some(ext) = s.external.first() {
        return (format!("http://{ext}:{port}/"), target, None);
    }
    let node_port = s.ports.iter().find_map(|p| p.node_port);
    let note = match node_port {
        Some(np) => format!("{IN_CLUSTER_NOTE} This service also listens on every node at port {np} (NodePort)."),
        None => IN_CLUSTER_NOTE.to_string(),
    };
    let ip = s.cluster_ip.clone().unwrap_or_else(|| "<headless>".into());
    (format!("http://{ip}:{port}/"), target, Some(note))
}

/// Said plainly when a run could not connect to an in-cluster address.
pub fn reachability_hint(state: &State, session: &BenchSession) -> Option<String> {
    let errors = match (&session.result, &session.progress) {
        (Some(r), _) => (r.errors.connect, r.responses),
        (None, Some(p)) => (p.errors.connect, p.responses),
        _ => return None,
    };
    if errors.0 == 0 || errors.1 > 0 {
        return None;
    }
    // Sent from agent pods: the address is seen from inside the cluster.
    if !session.agents.is_empty() {
        return Some("nothing answered the agents: check the address from inside the cluster".into());
    }
    let host = session
        .config
        .url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .unwrap_or("");
    let what = if let Some(p) = state.pods.values().find(|p| p.info.ip.as_deref() == Some(host)) {
        format!("{host} is the IP of pod {}/{}", p.info.namespace, p.info.name)
    } else if let Some(s) = state.services.values().find(|s| s.cluster_ip.as_deref() == Some(host)) {
        format!("{host} is the ClusterIP of service {}/{}", s.namespace, s.name)
    } else {
        return Some(format!(
            "nothing answered at {host}: check the address, or whether a firewall is in the way"
        ));
    };
    Some(format!(
        "{what}, and it is not reachable from this machine: {IN_CLUSTER_NOTE}"
    ))
}

/// The target pods' summed usage now: (app cpu, proxy cpu, app mem, proxy mem).
pub fn target_usage(state: &State, target: &BenchTarget) -> Option<(f64, f64, f64, f64)> {
    let mut sum: Option<(f64, f64, f64, f64)> = None;
    for key in &target.pods {
        let Some(u) = state.pods.get(key).and_then(|p| p.usage) else {
            continue;
        };
        let s = sum.get_or_insert((0.0, 0.0, 0.0, 0.0));
        s.0 += u.app_cpu_m;
        s.1 += u.proxy_cpu_m;
        s.2 += u.app_mem as f64;
        s.3 += u.proxy_mem as f64;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_form_builds_a_validated_config() {
        let mut f = BenchForm::new("http://10.0.0.5:8080/".into(), BenchTarget::default(), None);
        let c = f.config().unwrap().spec;
        assert_eq!(
            (c.rate, c.connections, c.duration),
            (100.0, 10, Some(Duration::from_secs(30)))
        );
        assert!(!c.http2);
        // Connections mode is a closed loop; HTTP/2 toggles with space.
        f.focus = 1;
        f.type_char(' ');
        f.focus = 5;
        f.type_char(' ');
        f.focus = 6;
        for ch in "X-Test: 1; Authorization: Bearer t".chars() {
            f.type_char(ch);
        }
        let c = f.config().unwrap().spec;
        assert_eq!(c.rate, 0.0);
        assert!(c.http2);
        assert_eq!(
            c.headers,
            vec![
                ("X-Test".into(), "1".into()),
                ("Authorization".into(), "Bearer t".into())
            ]
        );
        f.focus = 4;
        f.backspace();
        f.backspace();
        f.backspace();
        for ch in "1m30s".chars() {
            f.type_char(ch);
        }
        assert_eq!(f.config().unwrap().spec.duration, Some(Duration::from_secs(90)));
        f.type_char('x');
        assert_eq!(
            f.config().unwrap_err(),
            format!(
                "duration: \"1m30sx\" is not a duration ({})",
                crate::input::DURATION_FORMS
            )
        );
    }

    #[test]
    fn sweep_steps_make_the_form_a_sweep() {
        let mut f = BenchForm::new("http://10.0.0.5:15001/".into(), BenchTarget::default(), None);
        assert_eq!(f.sweep(), Ok(None));
        f.values.insert("sweep steps", "20,60".into());
        f.values.insert("baseline URL", "http://10.0.0.5:8080/".into());
        f.values.insert("duration", "12s".into());
        let p = f.sweep().unwrap().unwrap();
        let names: Vec<&str> = p.targets.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["baseline", "target"]);
        assert_eq!(p.baseline, "baseline");
        // Rate mode: the steps are rates, over the form's connections.
        assert_eq!(p.varies, crate::sweep::Varies::Rates(vec![20.0, 60.0]));
        assert_eq!((p.connections, p.duration), (10, Duration::from_secs(12)));
        f.focus = 1;
        f.type_char(' ');
        let p = f.sweep().unwrap().unwrap();
        assert_eq!(p.varies, crate::sweep::Varies::Connections(vec![20, 60]));
        f.values.insert("sweep steps", "8,,x".into());
        assert!(f.sweep().unwrap_err().starts_with("sweep steps: "), "{:?}", f.sweep());
        f.values.insert("sweep steps", "8".into());
        f.values.insert("baseline URL", "ftp://nope/".into());
        assert!(f.sweep().unwrap_err().starts_with("baseline URL:"), "{:?}", f.sweep());
    }

    #[test]
    fn bad_input_is_refused_with_the_field_named() {
        let form = |url: &str| BenchForm::new(url.into(), BenchTarget::default(), None);
        assert!(
            form("not a url").config().unwrap_err().contains("URL"),
            "{:?}",
            form("not a url").config()
        );
        let mut f = form("http://x/");
        f.values.insert("rate (req/s)", "-5".into());
        assert_eq!(f.config().unwrap_err(), "rate (req/s): \"-5\" is below 0");
        f.values.insert("rate (req/s)", "0".into());
        assert!(f.config().unwrap_err().starts_with("rate (req/s): must be above 0"));
        f.values.insert("rate (req/s)", "lots".into());
        assert_eq!(f.config().unwrap_err(), "rate (req/s): \"lots\" is not a number");
        f.values.insert("rate (req/s)", "0.0001".into());
        assert!(f.config().unwrap_err().contains("schedules no request"));
        let mut f = form("http://x/");
        f.values.insert("connections", "2.5".into());
        assert_eq!(
            f.config().unwrap_err(),
            "connections: \"2.5\" is not a whole number between 1 and 100000"
        );
        f.values.insert("connections", "99999999999".into());
        assert_eq!(
            f.config().unwrap_err(),
            "connections: \"99999999999\" is not between 1 and 100000"
        );
        let mut f = form("http://x/");
        f.values.insert("headers", "NoColon".into());
        assert!(f.config().unwrap_err().starts_with("headers: \"NoColon\""));
        let mut f = form("http://x/");
        f.values.insert("duration", "25h".into());
        assert_eq!(f.config().unwrap_err(), "duration: \"25h\" is too long (at most 24h)");
    }
}
