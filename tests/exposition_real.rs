//! meshtop's exposition parser yields the same samples as prometheus-parse 0.2.5 on every
//! real metric dump in ../shared/fixtures/real (read in place).

mod support;

use meshtop::metrics::exposition;

/// (name, sorted labels, value bits) — a sample in a form both parsers can be compared in.
type Flat = (String, Vec<(String, String)>, u64);

fn bits(v: f64) -> u64 {
    if v.is_nan() { f64::NAN.to_bits() } else { v.to_bits() }
}

fn ours(text: &str) -> Vec<Flat> {
    let e = exposition::parse(text);
    assert_eq!(e.errors, [], "real dumps parse without errors");
    let mut v: Vec<Flat> = e
        .samples
        .iter()
        .map(|s| {
            let mut labels: Vec<(String, String)> = s
                .labels()
                .map(|(k, v)| {
                    // prometheus-parse stores le and quantile as f64: compare them as numbers.
                    let v = if k == "le" || k == "quantile" {
                        exposition::parse_value(&v).unwrap().to_string()
                    } else {
                        v.into_owned()
                    };
                    (k.to_string(), v)
                })
                .collect();
            labels.sort();
            (s.name.to_string(), labels, bits(s.value))
        })
        .collect();
    v.sort();
    v
}

fn theirs(text: &str) -> Vec<Flat> {
    use prometheus_parse::{Scrape, Value};
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let mut v = Vec::new();
    for s in scrape.samples {
        let base: Vec<(String, String)> = s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut push = |name: String, extra: Option<(&str, f64)>, value: f64| {
            let mut labels = base.clone();
            if let Some((k, x)) = extra {
                labels.push((k.to_string(), x.to_string()));
            }
            labels.sort();
            v.push((name, labels, bits(value)));
        };
        match s.value {
            Value::Counter(x) | Value::Gauge(x) | Value::Untyped(x) => push(s.metric.clone(), None, x),
            Value::Histogram(hs) => {
                for h in hs {
                    push(format!("{}_bucket", s.metric), Some(("le", h.less_than)), h.count);
                }
            }
            Value::Summary(qs) => {
                for q in qs {
                    push(s.metric.clone(), Some(("quantile", q.quantile)), q.count);
                }
            }
        }
    }
    v.sort();
    v
}

#[test]
fn same_samples_as_prometheus_parse_on_every_real_dump() {
    let Some(dir) = support::real_fixtures() else { return };
    let dumps = [
        "istio/metrics/istio-1.11-merged-15020.txt",
        "istio/metrics/istio-1.11-envoy-15090.txt",
        "istio/metrics/istiod.txt",
        "linkerd/metrics/proxy-sampleMetrics.txt",
    ];
    for d in dumps {
        let text = support::read(&dir.join(d));
        // prometheus-parse's sample regex requires at least one label inside braces, so it
        // drops `name{} 28` (Envoy writes those). Give it the equivalent `name 28` and
        // check separately that this is the only difference.
        let empty_braces = text.lines().filter(|l| l.contains("{} ")).count();
        let (a, b) = (ours(&text), theirs(&text.replace("{} ", " ")));
        assert_eq!(
            theirs(&text).len() + empty_braces,
            b.len(),
            "{d}: only `{{}}` lines differ"
        );
        let only_ours: Vec<&Flat> = a.iter().filter(|x| !b.contains(x)).take(3).collect();
        let only_theirs: Vec<&Flat> = b.iter().filter(|x| !a.contains(x)).take(3).collect();
        assert_eq!(
            a.len(),
            b.len(),
            "{d}: sample count; only ours: {only_ours:?}; only theirs: {only_theirs:?}"
        );
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "{d}");
        }
        // Exact counts, so a parser that silently dropped lines would fail.
        let lines = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .count();
        assert_eq!(a.len(), lines, "{d}: one sample per sample line");
    }
}
