//! The test bed's bearer-token webhook, served by the test that needs it.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// The test bed's token webhook (scripts/testbed points the API server at it): accepts a
/// token `rot.<expiry>.<n>` until its expiry, as a managed cluster accepts a short-lived
/// token from an exec credential plugin, and counts what it saw.
pub struct TokenWebhook {
    pub accepted: Arc<Mutex<BTreeSet<String>>>,
    pub refused: Arc<std::sync::atomic::AtomicU64>,
}

impl TokenWebhook {
    pub fn start() -> TokenWebhook {
        let port = std::env::var("MESHTOP_TESTBED_TOKEN_WEBHOOK_PORT").unwrap_or_else(|_| "26481".into());
        let listener = std::net::TcpListener::bind(format!("127.0.0.1:{port}"))
            .unwrap_or_else(|e| panic!("the token webhook's port {port}: {e}"));
        let accepted = Arc::new(Mutex::new(BTreeSet::new()));
        let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (a, r) = (accepted.clone(), refused.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (a, r) = (a.clone(), r.clone());
                std::thread::spawn(move || serve_token_reviews(conn, &a, &r));
            }
        });
        TokenWebhook { accepted, refused }
    }
}

fn serve_token_reviews(
    conn: std::net::TcpStream,
    accepted: &Mutex<BTreeSet<String>>,
    refused: &std::sync::atomic::AtomicU64,
) {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut out = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let review: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let token = review["spec"]["token"].as_str().unwrap_or_default().to_string();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let valid = token
            .strip_prefix("rot.")
            .and_then(|t| t.split('.').next())
            .and_then(|exp| exp.parse::<u64>().ok())
            .is_some_and(|exp| now <= exp);
        let status = if valid {
            accepted.lock().unwrap().insert(token);
            serde_json::json!({"authenticated": true, "user": {"username": "rotator", "groups": ["system:masters"]}})
        } else {
            refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            serde_json::json!({"authenticated": false})
        };
        let answer =
            serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status})
                .to_string();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        );
        if out
            .write_all(head.as_bytes())
            .and_then(|()| out.write_all(answer.as_bytes()))
            .is_err()
        {
            return;
        }
    }
}
