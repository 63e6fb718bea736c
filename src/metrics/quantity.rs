//! Kubernetes resource quantities as metrics.k8s.io reports them.

/// CPU in millicores: `250001749n`, `250u`, `100m`, `2`, `1.5`.
pub fn cpu_millicores(q: &str) -> Option<f64> {
    let (num, scale) = match q.as_bytes().last()? {
        b'n' => (&q[..q.len() - 1], 1e-6),
        b'u' => (&q[..q.len() - 1], 1e-3),
        b'm' => (&q[..q.len() - 1], 1.0),
        _ => (q, 1e3),
    };
    num.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v * scale)
}

/// Memory in bytes: `64Mi`, `937464Ki`, `1G`, `123456`, `1.5Gi`, `12e6`.
pub fn bytes(q: &str) -> Option<u64> {
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024.0 * 1024.0 * 1024.0 * 1024.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("m", 1e-3),
    ];
    let (num, scale) = SUFFIXES
        .iter()
        .find_map(|(s, f)| q.strip_suffix(s).map(|n| (n, *f)))
        .unwrap_or((q, 1.0));
    num.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| (v * scale).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu() {
        assert_eq!(cpu_millicores("250001749n"), Some(250.001749));
        assert_eq!(cpu_millicores("100m"), Some(100.0));
        assert_eq!(cpu_millicores("250u"), Some(0.25));
        assert_eq!(cpu_millicores("2"), Some(2000.0));
        assert_eq!(cpu_millicores("0"), Some(0.0));
        assert_eq!(cpu_millicores("x"), None);
        assert_eq!(cpu_millicores("-1m"), None);
    }

    #[test]
    fn memory() {
        assert_eq!(bytes("64Mi"), Some(67_108_864));
        assert_eq!(bytes("937464Ki"), Some(959_963_136));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("123456"), Some(123_456));
        assert_eq!(bytes("12e6"), Some(12_000_000));
        assert_eq!(bytes("Mi"), None);
    }
}
