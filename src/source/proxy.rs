//! Which proxy reaches the API server: the kubeconfig's `proxy-url` first, else the
//! environment, as kubectl does (`HTTPS_PROXY`/`https_proxy` for an https server,
//! `HTTP_PROXY`/`http_proxy` for http, minus the hosts `NO_PROXY`/`no_proxy` lists).
//! Pure: the environment is passed in, so it is tested without touching the process's.

use std::net::IpAddr;

/// The proxy for `server` from these environment variables, or None.
pub fn from_env(server: &http::Uri, var: impl Fn(&str) -> Option<String>) -> Option<String> {
    let host = server.host()?.trim_start_matches('[').trim_end_matches(']');
    // Go's ProxyFromEnvironment, which kubectl uses, never proxies loopback.
    if host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return None;
    }
    let first = |names: &[&str]| names.iter().find_map(|n| var(n).filter(|v| !v.trim().is_empty()));
    let proxy = match server.scheme_str() {
        Some("http") => first(&["HTTP_PROXY", "http_proxy"]),
        _ => first(&["HTTPS_PROXY", "https_proxy"]),
    }?;
    let no_proxy = first(&["NO_PROXY", "no_proxy"]).unwrap_or_default();
    if no_proxy.split(',').any(|entry| excluded(entry.trim(), host)) {
        return None;
    }
    // A bare host:port means http, as Go's ProxyFromEnvironment reads it.
    Some(if proxy.contains("://") {
        proxy
    } else {
        format!("http://{proxy}")
    })
}

/// Whether one NO_PROXY entry covers `host`: `*`, the host itself, a domain (`.corp` or
/// `corp` covers `api.corp`), an IP or a CIDR. A port in the entry is ignored.
fn excluded(entry: &str, host: &str) -> bool {
    if entry.is_empty() {
        return false;
    }
    if entry == "*" {
        return true;
    }
    // `*.corp` as `.corp`.
    let entry = entry.strip_prefix('*').unwrap_or(entry);
    if let Some((net, bits)) = entry.split_once('/') {
        return match (net.parse::<IpAddr>(), bits.parse::<u32>(), host.parse::<IpAddr>()) {
            (Ok(net), Ok(bits), Ok(ip)) => in_cidr(ip, net, bits),
            _ => false,
        };
    }
    let name = match entry.rsplit_once(':') {
        // `host:port`, `[::1]:port`; not a bare IPv6 address.
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && (!h.contains(':') || h.ends_with(']')) => h,
        _ => entry,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if let (Ok(a), Ok(b)) = (name.parse::<IpAddr>(), host.parse::<IpAddr>()) {
        return a == b;
    }
    let domain = name.trim_start_matches('.').to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    host == domain || host.ends_with(&format!(".{domain}"))
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    #[test]
    fn the_scheme_picks_the_variable_and_no_proxy_excludes() {
        let vars = [
            ("HTTPS_PROXY", "http://proxy.corp:3128"),
            ("http_proxy", "plain:8080"),
            (
                "NO_PROXY",
                "localhost, .internal,10.0.0.0/8,192.168.1.7:6443,*.corp,[fd00::1]:6443",
            ),
        ];
        let e = env(&vars);
        assert_eq!(
            from_env(&uri("https://api.example.com:6443"), &e).as_deref(),
            Some("http://proxy.corp:3128")
        );
        assert_eq!(
            from_env(&uri("http://api.example.com"), &e).as_deref(),
            Some("http://plain:8080")
        );
        for excluded in [
            "https://localhost:6443",
            "https://k8s.internal",
            "https://internal",
            "https://10.1.2.3:6443",
            "https://192.168.1.7",
            "https://api.corp",
            "https://[fd00::1]:6443",
            // Loopback is never proxied, whatever NO_PROXY says.
            "https://127.0.0.1:6443",
            "https://[::1]:6443",
        ] {
            assert_eq!(from_env(&uri(excluded), &e), None, "{excluded}");
        }
        for proxied in ["https://192.168.1.8", "https://11.0.0.1", "https://notinternal"] {
            assert!(from_env(&uri(proxied), &e).is_some(), "{proxied}");
        }
        assert_eq!(from_env(&uri("https://a"), env(&[("https_proxy", "")])), None);
        assert_eq!(
            from_env(&uri("https://a"), env(&[("HTTPS_PROXY", "p:1"), ("no_proxy", "*")])),
            None
        );
    }
}
