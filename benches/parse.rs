//! Exposition parsing speed on the real dumps: meshtop's parser against prometheus-parse
//! 0.2.5, in one run. Prints MB/s and the ratio. Run: cargo bench --bench parse
//! Reads ../shared/fixtures/real (or $MESHTOP_FIXTURES).

use std::hint::black_box;
use std::time::{Duration, Instant};

fn rate(bytes: usize, mut f: impl FnMut()) -> f64 {
    // Warm up, then run for about a second.
    for _ in 0..3 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        f();
        n += 1;
    }
    (bytes as f64 * n as f64) / start.elapsed().as_secs_f64() / 1e6
}

fn main() {
    let dir = std::env::var_os("MESHTOP_FIXTURES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/real"));
    let dumps = [
        "istio/metrics/istio-1.11-merged-15020.txt",
        "istio/metrics/istio-1.11-envoy-15090.txt",
        "istio/metrics/istiod.txt",
        "linkerd/metrics/proxy-sampleMetrics.txt",
    ];
    println!(
        "{:<45} {:>9} {:>16} {:>12} {:>7}",
        "dump", "bytes", "prometheus-parse", "meshtop", "ratio"
    );
    for d in dumps {
        let Ok(text) = std::fs::read_to_string(dir.join(d)) else {
            println!("{d}: not found under {}", dir.display());
            continue;
        };
        let theirs = rate(text.len(), || {
            let s = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
            black_box(s);
        });
        let ours = rate(text.len(), || {
            // Parse and touch every label, as the golden-signal code does.
            let e = meshtop::metrics::exposition::parse(black_box(&text));
            let mut n = 0usize;
            for s in &e.samples {
                n += s.labels().count();
            }
            black_box((e, n));
        });
        println!(
            "{d:<45} {:>9} {:>11.1} MB/s {:>7.1} MB/s {:>6.1}x",
            text.len(),
            theirs,
            ours,
            ours / theirs
        );
    }
}
