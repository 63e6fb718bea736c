//! `meshtop tap --log`: access-log lines someone saved from `kubectl logs`, through the same
//! parser, filters and summary as the live tap. Exact values: the lines are known.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

const LINES: &str = r#"[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" "10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 10.0.45.184:8000 10.44.1.23:46520 - default
[2020-11-25T21:26:19.000Z] "GET /users/42?session=abc&token=s3cret HTTP/1.1" 503 UF,URX - - "delayed connect error: 111" 0 91 1500 - "-" "Mozilla/5.0 (X11; Linux x86_64)" "req-2" "users:8080" "10.1.0.9:8080" inbound|8080|| 127.0.0.6:41111 10.1.0.9:8080 10.1.0.4:50000 - default
{"authority":"users:8080","bytes_received":0,"bytes_sent":20,"duration":7,"method":"GET","path":"/users/43","protocol":"HTTP/1.1","response_code":200,"response_flags":"-","start_time":"2020-11-25T21:26:20.000Z","upstream_cluster":"inbound|8080||","upstream_host":"10.1.0.9:8080","downstream_remote_address":"10.1.0.4:50001","user_agent":null}
[2020-11-25T21:26:21.000Z] "- - -" 0 - - - "-" 1200 5600 3000 - "-" "-" "-" "-" "10.1.0.20:3306" outbound|3306||mysql.db.svc.cluster.local 10.1.0.9:51000 10.96.0.30:3306 10.1.0.9:40000 - -
2020-11-25T21:26:22.000000Z	warning	envoy config	StreamAggregatedResources gRPC config stream closed: 13
[2020-11-25T21:26:23.000Z] "GET /users/44 HTTP/1.1" 200 - via_upstream - "-" 0 2
"#;

fn tap(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshtop"))
        .arg("tap")
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn json_lines(s: &str) -> Vec<Value> {
    s.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn json_events_carry_every_field_and_the_counts() {
    let (code, out, err) = tap(&["--log", "-", "-o", "json"], LINES);
    assert_eq!(code, Some(0), "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 5, "4 events and the summary: {out}");
    assert_eq!(
        lines[0],
        serde_json::json!({
            "time": "2020-11-25T21:26:18.409Z", "origin": "logs", "direction": "outbound",
            "source": "10.44.1.23", "destination": "httpbin.foo:8000", "method": "GET",
            "authority": "httpbin:8000", "path": "/status/418", "status": 418, "duration_ms": 4.0,
            "bytes_received": 0, "bytes_sent": 135, "upstream_host": "10.44.1.27:80",
            "upstream_cluster": "outbound|8000||httpbin.foo.svc.cluster.local", "response_flags": null,
            "grpc_status": null, "error": null, "reporter": null,
        })
    );
    // Secrets in query strings never reach the output.
    assert_eq!(lines[1]["path"], "/users/42?session=<redacted>&token=<redacted>");
    assert_eq!(
        (lines[1]["status"].as_u64(), lines[1]["response_flags"].as_str()),
        (Some(503), Some("UF,URX"))
    );
    assert_eq!(lines[1]["direction"], "inbound");
    assert_eq!(lines[2]["bytes_sent"], 20, "from the JSON encoding");
    assert_eq!(
        (lines[3]["method"].clone(), lines[3]["status"].clone()),
        (Value::Null, Value::Null),
        "a TCP entry"
    );
    assert_eq!(
        lines[4],
        serde_json::json!({"summary": {"events": 4, "matched": 4, "unparsed": 2}})
    );
    // Each line that did not parse is shown with its number and why.
    assert!(err.contains("line 5: not an access-log entry"), "{err}");
    assert!(err.contains("line 6: not Istio's or Envoy's default format"), "{err}");
}

#[test]
fn filters_apply_to_the_response() {
    let (_, out, _) = tap(&["--log", "-", "-o", "json", "--status", "5xx"], LINES);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["status"], 503);
    assert_eq!(lines[1]["summary"]["matched"], 1);
    let (_, out, _) = tap(&["--log", "-", "-o", "json", "--min-latency", "1s"], LINES);
    let paths: Vec<Value> = json_lines(&out).iter().map(|l| l["duration_ms"].clone()).collect();
    assert_eq!(paths[..2], [Value::from(1500.0), Value::from(3000.0)]);
    let (_, out, _) = tap(
        &["--log", "-", "-o", "json", "--path", "/users/", "--method", "get"],
        LINES,
    );
    assert_eq!(json_lines(&out).last().unwrap()["summary"]["matched"], 2);
}

#[test]
fn summary_groups_by_authority_with_normalised_paths() {
    let (code, out, err) = tap(&["--log", "-", "--summary", "-o", "json"], LINES);
    assert_eq!(code, Some(0), "{err}");
    let lines = json_lines(&out);
    let users = lines.iter().find(|l| l["path"] == "/users/{id}").expect("/users/{id}");
    assert_eq!(
        users,
        &serde_json::json!({"direction": "inbound", "authority": "users:8080", "method": "GET",
            "path": "/users/{id}", "count": 2, "success_rate": 0.5, "min_ms": 7.0, "max_ms": 1500.0,
            "p99_ms": 1500.0, "last_ms": 7.0})
    );
    assert_eq!(lines.len(), 4, "three groups and the counts: {out}");
    let (_, text, _) = tap(&["--log", "-", "--summary"], LINES);
    let head = text.lines().next().unwrap();
    assert_eq!(
        head.split_whitespace().collect::<Vec<_>>(),
        [
            "DIR",
            "AUTHORITY",
            "METHOD",
            "PATH",
            "COUNT",
            "SUCCESS",
            "BEST",
            "WORST",
            "LAST",
            "P99"
        ]
    );
    assert!(
        text.contains("inbound   users:8080    GET     /users/{id}   2      50.00%   7ms   1.5s   7ms   1.5s"),
        "{text}"
    );
}

#[test]
fn bad_input_names_the_culprit() {
    let (code, _, err) = tap(&["--log", "/nonexistent/access.log"], "");
    assert_eq!(code, Some(2));
    assert!(err.contains("--log /nonexistent/access.log"), "{err}");
    let (code, _, err) = tap(&["--log", "-", "--status", "6xx"], "");
    assert_eq!(code, Some(2));
    assert!(err.contains("\"6xx\" is not a status"), "{err}");
    let (code, _, err) = tap(&["web"], "");
    assert_eq!(code, Some(2));
    assert!(err.contains("give TYPE/NAME"), "{err}");
    let (code, _, err) = tap(&["deploy/web", "--max-rps", "0"], "");
    assert_eq!(code, Some(2));
    assert!(err.contains("--max-rps"), "{err}");
}
