//! A run's sampled requests as tap events, so a bench shows in the tap view beside the
//! mesh's own traffic.

use super::engine::RequestSample;
use crate::model::bench::BenchSpec;
use crate::model::tap::{TapEvent, TapOrigin};

/// Sampled requests as tap events: from `meshtop` to the URL's host, seen by `reporter`
/// (`bench #3`). Query strings go through the one redaction policy like any tap event.
pub fn tap_events(samples: Vec<RequestSample>, spec: &BenchSpec, reporter: &str) -> Vec<TapEvent> {
    let url = url::Url::parse(&spec.url).ok();
    let authority = url.as_ref().and_then(|u| {
        let host = u.host_str()?;
        Some(match u.port_or_known_default() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_string(),
        })
    });
    let path = url.as_ref().map(|u| match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_string(),
    });
    samples
        .into_iter()
        .map(|s| {
            let mut e = TapEvent::new(
                s.at,
                TapOrigin::Bench,
                "meshtop".into(),
                authority.clone().unwrap_or_else(|| spec.url.clone()),
            );
            e.direction = Some(crate::model::tap::Direction::Outbound);
            e.method = Some(spec.method.clone());
            e.authority = authority.clone();
            e.path = path.clone();
            e.status = s.status;
            e.duration_ms = Some(s.latency_ms);
            e.bytes_sent = s.status.map(|_| s.bytes);
            e.error = s.error.map(str::to_string);
            e.reporter = Some(reporter.to_string());
            e.details
                .push(("protocol".into(), if spec.http2 { "HTTP/2" } else { "HTTP/1.1" }.into()));
            for (name, value) in &spec.headers {
                e.details
                    .push((format!("header {}", name.to_ascii_lowercase()), value.clone()));
            }
            e.redact();
            e
        })
        .collect()
}
