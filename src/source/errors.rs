//! The one mapping from Kubernetes client errors to what meshtop says: a coarse kind for
//! the status line and the API's own reason (or the innermost cause of a connection
//! failure, e.g. "Connection refused"), with hints where a resource has a known story.

use kube::runtime::watcher;

use crate::model::{ErrorKind, Resource};

/// Why a request about `resource` failed, in the user's terms.
pub fn kube_error(resource: Resource, e: &kube::Error) -> (ErrorKind, String) {
    match e {
        kube::Error::Api(s) => api_status(resource, s.code, &s.message),
        other => (ErrorKind::Unreachable, innermost(other)),
    }
}

/// The same for a watch's errors.
pub fn watch_error(resource: Resource, e: &watcher::Error) -> (ErrorKind, String) {
    match e {
        watcher::Error::InitialListFailed(k) | watcher::Error::WatchStartFailed(k) | watcher::Error::WatchFailed(k) => {
            kube_error(resource, k)
        }
        watcher::Error::WatchError(s) => api_status(resource, s.code, &s.message),
        other => (ErrorKind::Api, other.to_string()),
    }
}

/// An HTTP status from the API server (or a service behind its proxy).
pub fn api_status(resource: Resource, code: u16, message: &str) -> (ErrorKind, String) {
    match (resource, code) {
        (Resource::Tap, 403) => (
            ErrorKind::Forbidden,
            format!(
                "not allowed to tap: it needs the verb watch on tap.linkerd.io (e.g. bind the ClusterRole \
                 linkerd-linkerd-viz-tap-admin): {message} (403)"
            ),
        ),
        (Resource::Tap, 404) => (
            ErrorKind::Api,
            format!(
                "the API server does not serve tap.linkerd.io: is linkerd-viz installed (linkerd viz install)? ({message})"
            ),
        ),
        (Resource::Tap, 503) => (
            ErrorKind::Api,
            format!(
                "Linkerd's tap APIService v1alpha1.tap.linkerd.io is unavailable (is the tap deployment in \
                 linkerd-viz running?): {message}"
            ),
        ),
        (Resource::Logs, 403) => (
            ErrorKind::Forbidden,
            format!("not allowed to read pod logs (get on pods/log): {message} (403)"),
        ),
        // Without the namespace list nothing can fall back to reading each namespace: the
        // user must name the ones they may read.
        (Resource::Namespaces, 403) => (
            ErrorKind::Forbidden,
            format!(
                "{message} (403); without it meshtop cannot find the namespaces, nor read their labels: name the ones you may read with -n NS,NS and each is read on its own"
            ),
        ),
        (_, 401 | 403) if message.is_empty() => (ErrorKind::Forbidden, format!("HTTP {code}")),
        (_, 401) => (ErrorKind::Forbidden, format!("unauthorized (401): {message}")),
        (_, 403) => (ErrorKind::Forbidden, format!("{message} (403)")),
        (Resource::PodMetrics, 404) => (
            ErrorKind::Api,
            "metrics-server is not installed: the API server does not serve metrics.k8s.io".into(),
        ),
        (Resource::PodMetrics, 503) => (ErrorKind::Api, format!("metrics-server is unavailable: {message}")),
        _ if message.is_empty() => (ErrorKind::Api, format!("HTTP {code}")),
        _ => (ErrorKind::Api, format!("{message} ({code})")),
    }
}

/// The innermost cause, which says more than the wrapper ("ServiceError: client error
/// (Connect)" hides "Connection refused"), without the OS's error number (`(os error 111)`:
/// noise on a status line that has room for one message).
pub fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    loop {
        if let Some(plain) = exec_failure(cause) {
            return plain;
        }
        match cause.source() {
            Some(next) => cause = next,
            None => break,
        }
    }
    let root = cause.to_string();
    let top = e.to_string();
    let text = if root == top { top } else { root };
    // Through the redaction policy: a failed exec plugin's error quotes its output.
    let text = crate::redact::scrub(&text);
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

/// An error and its causes as one line, outermost first, each said once (kube's "auth
/// error: X" is not followed by X again), a failed exec credential plugin said plainly, and
/// through the redaction policy: what meshtop prints or shows of a failure.
pub fn chain_text<'a>(chain: impl Iterator<Item = &'a (dyn std::error::Error + 'static)>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in chain {
        if let Some(plain) = exec_failure(cause) {
            parts.push(plain);
            break;
        }
        let text = cause.to_string();
        if !parts.last().is_some_and(|last| last.ends_with(&text)) {
            parts.push(text);
        }
    }
    crate::redact::scrub(&parts.join(": "))
}

/// The same for an eyre report.
pub fn report_text(e: &color_eyre::Report) -> String {
    chain_text(e.chain())
}

/// A kubeconfig exec credential plugin that exited with an error, in plain words. kube's
/// own text quotes the plugin's whole output, which is or may quote the credential: it is
/// withheld, and the user told how to see it.
pub fn exec_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use kube::client::AuthError;
    let auth = match e.downcast_ref::<kube::Error>() {
        Some(kube::Error::Auth(a)) => a,
        _ => e.downcast_ref::<AuthError>()?,
    };
    let text = match auth {
        AuthError::AuthExecRun { cmd, out } => format!(
            "the kubeconfig's credential plugin {} failed ({}); its output is not shown, as it \
             may hold a credential: run the command yourself to see why",
            plugin_program(cmd),
            out.status
        ),
        // The parser's message quotes what it could not read: a plugin that printed a bare
        // token would have it shown.
        AuthError::AuthExecParse(_) => "the kubeconfig's credential plugin printed something that is not an \
             ExecCredential; its output is not shown, as it may hold a credential: run the \
             command yourself to see it"
            .to_string(),
        _ => return None,
    };
    // The command's arguments may hold a secret too (`--client-secret=...`).
    Some(crate::redact::scrub(&text))
}

/// The program kube ran, from the command as it quotes it: Rust's Debug of a `Command`
/// (`KUBERNETES_EXEC_INFO="{…}" "/bin/x" "arg"`, or `env -u X … "/bin/x"` when variables
/// were dropped) or the auth provider's `cmd args`. Only the program: arguments and the
/// environment may hold a secret (`--client-secret X`).
fn plugin_program(debug: &str) -> String {
    let text = debug.trim();
    let first = text.split_whitespace().next().unwrap_or("");
    let debug_form = first.starts_with('"')
        || first == "env"
        || first
            .split_once("=\"")
            .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if !debug_form {
        // An auth provider's `cmd args` (its arguments may be quoted: never those).
        return first.to_string();
    }
    // The first quoted string that is not an assignment's value is the program.
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        let body = &rest[open + 1..];
        let mut escaped = false;
        let close = body.char_indices().find_map(|(i, c)| {
            let end = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            end.then_some(i)
        });
        let Some(close) = close else { break };
        if !rest[..open].ends_with('=') {
            return body[..close].to_string();
        }
        rest = &body[close + 1..];
    }
    // Unquoted (an auth provider's `cmd params`): its first word.
    text.split_whitespace().next().unwrap_or("").to_string()
}

/// The error and, after it, its innermost cause when that says something more: "error
/// reading a body from connection: Connection reset by peer".
pub fn with_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let top = crate::redact::scrub(&e.to_string());
    let root = innermost(e);
    if top.contains(&root) {
        top
    } else {
        format!("{top}: {root}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_follows_the_wrapper_once() {
        #[derive(Debug)]
        struct Wrap(std::io::Error);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error reading a body from connection")
            }
        }
        impl std::error::Error for Wrap {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let reset = Wrap(std::io::Error::from_raw_os_error(104));
        assert_eq!(
            with_cause(&reset),
            "error reading a body from connection: Connection reset by peer"
        );
        let plain = std::io::Error::other("no route");
        assert_eq!(with_cause(&plain), "no route");
    }

    /// A failed exec plugin: the command and its status, once, and nothing it printed.
    #[test]
    fn a_failed_exec_plugin_is_said_plainly() {
        use color_eyre::eyre::WrapErr;
        use std::os::unix::process::ExitStatusExt;
        let out = std::process::Output {
            status: std::process::ExitStatus::from_raw(256),
            stdout: b"{\"token\":\"tok-out\"}".to_vec(),
            stderr: b"tok-err expired".to_vec(),
        };
        let cmd = r#"KUBERNETES_EXEC_INFO="{\"kind\":\"ExecCredential\",\"spec\":{\"interactive\":false}}" "/usr/local/bin/cred" "get-token""#;
        let e = kube::Error::Auth(kube::client::AuthError::AuthExecRun {
            cmd: cmd.into(),
            out: Box::new(out),
        });
        let want = "the kubeconfig's credential plugin /usr/local/bin/cred failed (exit status: 1); \
                    its output is not shown, as it may hold a credential: run the command yourself to see why";
        assert_eq!(innermost(&e), want);
        assert_eq!(kube_error(Resource::Pods, &e).1, want);
        let report = Err::<(), _>(e).wrap_err("creating the Kubernetes client").unwrap_err();
        assert_eq!(report_text(&report), format!("creating the Kubernetes client: {want}"));
        assert_eq!(plugin_program("\"/bin/x\""), "/bin/x");
        assert_eq!(plugin_program("A=\"unclosed"), "A=\"unclosed");
        assert_eq!(plugin_program("env -u HOME K=\"v\" \"/bin/x\" \"s3cret\""), "/bin/x");
        assert_eq!(plugin_program("gcloud config-helper --secret s3cret"), "gcloud");
        assert_eq!(plugin_program("helper --client-secret \"s3cret\""), "helper");
        assert_eq!(plugin_program(""), "");
        // Never its arguments, in either form.
        for cmd in [
            r#""/bin/cred" "--client-secret=hunter2""#,
            r#""/bin/cred" "--client-secret" "hunter2""#,
            r#"env -u HOME TOKEN="hunter2" "/bin/cred""#,
        ] {
            let out = std::process::Output {
                status: std::process::ExitStatus::from_raw(256),
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
            let e = kube::Error::Auth(kube::client::AuthError::AuthExecRun {
                cmd: cmd.into(),
                out: Box::new(out),
            });
            let text = innermost(&e);
            assert!(
                text.starts_with("the kubeconfig's credential plugin /bin/cred failed") && !text.contains("hunter2"),
                "{text}"
            );
        }
        // Output that is not an ExecCredential: the parser's text quotes it, so it goes.
        let parse = serde_saphyr::from_str::<std::collections::BTreeMap<String, u32>>("tok-bare").unwrap_err();
        assert!(parse.to_string().contains("tok-bare"), "the parser quotes it: {parse}");
        let e = kube::Error::Auth(kube::client::AuthError::AuthExecParse(Box::new(parse)));
        assert_eq!(
            innermost(&e),
            "the kubeconfig's credential plugin printed something that is not an ExecCredential; \
             its output is not shown, as it may hold a credential: run the command yourself to see it"
        );
        // Other chains: each part once.
        let plain = Err::<(), _>(std::io::Error::other("refused"))
            .wrap_err("connecting")
            .unwrap_err();
        assert_eq!(report_text(&plain), "connecting: refused");
    }

    #[test]
    fn innermost_cause_without_the_os_error_number() {
        let refused = std::io::Error::from_raw_os_error(111);
        assert_eq!(innermost(&refused), "Connection refused");
        let wrapped = kube::Error::Service(Box::new(std::io::Error::from_raw_os_error(111)));
        assert_eq!(innermost(&wrapped), "Connection refused");
        let plain = std::io::Error::other("no route (today)");
        assert_eq!(innermost(&plain), "no route (today)");
    }

    #[test]
    fn statuses_say_why() {
        assert_eq!(
            api_status(Resource::Pods, 403, "pods is forbidden"),
            (ErrorKind::Forbidden, "pods is forbidden (403)".into())
        );
        assert_eq!(
            api_status(Resource::Namespaces, 403, "namespaces is forbidden").1,
            "namespaces is forbidden (403); without it meshtop cannot find the namespaces, nor read their labels: name the ones you may read with -n NS,NS and each is read on its own"
        );
        assert_eq!(
            api_status(Resource::PodMetrics, 404, "not found").1,
            "metrics-server is not installed: the API server does not serve metrics.k8s.io"
        );
        assert_eq!(
            api_status(Resource::PodMetrics, 503, "no endpoints"),
            (ErrorKind::Api, "metrics-server is unavailable: no endpoints".into())
        );
        assert_eq!(
            api_status(Resource::ProxyScrape, 502, "bad gateway"),
            (ErrorKind::Api, "bad gateway (502)".into())
        );
        assert_eq!(
            api_status(Resource::Prometheus, 500, ""),
            (ErrorKind::Api, "HTTP 500".into())
        );
        assert_eq!(
            api_status(Resource::Prometheus, 403, ""),
            (ErrorKind::Forbidden, "HTTP 403".into())
        );
    }
}
