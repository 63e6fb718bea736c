//! Follows one agent's frames through the API server's pod proxy
//! (`pods/NAME:9797/proxy/shard?from=LINE`). A broken stream is asked for again from the
//! next line needed, so frames arrive once each, in order, across reconnects; whether an
//! agent that stopped answering has failed is for its pod's status to say, not for the
//! follower.

use std::time::Duration;

use http_body_util::BodyExt;
use kube::Client;
use loadgen::shard::{self, Frame};
use tokio::sync::mpsc;

use super::AGENT_PORT;

/// What a follower tells the run.
#[derive(Debug)]
pub enum Msg {
    Frame {
        index: u32,
        frame: Box<Frame>,
    },
    /// The stream broke (or could not be opened) and is retried: why.
    Broken {
        index: u32,
        why: String,
    },
    /// A stream reopened after frames had come: resumed from the next frame needed.
    Resumed {
        index: u32,
    },
    /// A line that is not a frame: the agent's stream cannot be trusted.
    Corrupt {
        index: u32,
        why: String,
    },
}

/// Retry pause after a broken stream.
const RETRY: Duration = Duration::from_millis(500);

/// The proxy path of an agent's frames from line `from`.
pub fn path(namespace: &str, pod: &str, from: usize) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{pod}:{AGENT_PORT}/proxy/shard?from={from}&pod={pod}")
}

/// Follows agent `index` in `pod` from line `from` until its last frame, or until the
/// receiver is gone; the task is aborted when the pod's status says the agent failed.
pub async fn follow(
    client: Client,
    namespace: String,
    pod: String,
    index: u32,
    mut from: usize,
    tx: mpsc::Sender<Msg>,
) {
    loop {
        match stream(&client, &namespace, &pod, index, &mut from, &tx).await {
            Ok(true) => {
                // Tells the agent its last frame arrived: it may exit (an agent exits
                // only then, or after its --linger).
                let _ = ack(&client, &namespace, &pod, from).await;
                return;
            }
            Ok(false) => {
                let why = "the stream ended before the agent's last frame".to_string();
                if tx.send(Msg::Broken { index, why }).await.is_err() {
                    return;
                }
            }
            Err(Some(why)) => {
                if tx.send(Msg::Broken { index, why }).await.is_err() {
                    return;
                }
            }
            Err(None) => return,
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// One request: Ok(true) once the last frame is through, Ok(false) when the stream ended
/// short; Err(Some) a failure to report and retry, Err(None) stop (receiver gone, or the
/// stream is corrupt and was reported).
async fn stream(
    client: &Client,
    namespace: &str,
    pod: &str,
    index: u32,
    from: &mut usize,
    tx: &mpsc::Sender<Msg>,
) -> Result<bool, Option<String>> {
    let req = http::Request::get(path(namespace, pod, *from))
        .body(kube::client::Body::empty())
        .map_err(|e| Some(e.to_string()))?;
    let res = client
        .send(req)
        .await
        .map_err(|e| Some(crate::source::errors::with_cause(&e)))?;
    if res.status().is_success() && *from > 0 && tx.send(Msg::Resumed { index }).await.is_err() {
        return Err(None);
    }
    if !res.status().is_success() {
        let status = res.status();
        let mut body = res.into_body();
        let mut text = Vec::new();
        while let Some(Ok(f)) = body.frame().await {
            if let Some(d) = f.data_ref() {
                text.extend_from_slice(d);
            }
            if text.len() > 2048 {
                break;
            }
        }
        let text = String::from_utf8_lossy(&text);
        return Err(Some(format!("HTTP {status}: {}", crate::text::fit(text.trim(), 200))));
    }
    let mut body = res.into_body();
    let mut line = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Some(format!("reading the stream: {e}")))?;
        let Some(data) = frame.data_ref() else { continue };
        for chunk in data.split_inclusive(|&b| b == b'\n') {
            line.extend_from_slice(chunk);
            if line.len() > shard::MAX_LINE {
                let why = format!("a line longer than {} bytes", shard::MAX_LINE);
                let _ = tx.send(Msg::Corrupt { index, why }).await;
                return Err(None);
            }
            if line.last() != Some(&b'\n') {
                continue;
            }
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            line.clear();
            let frame = match shard::parse_line(&text) {
                Ok(f) => f,
                Err(e) => {
                    let why = format!("line {}: {e}", *from + 1);
                    let _ = tx.send(Msg::Corrupt { index, why }).await;
                    return Err(None);
                }
            };
            let last = matches!(frame, Frame::End(_));
            *from += 1;
            if tx
                .send(Msg::Frame {
                    index,
                    frame: Box::new(frame),
                })
                .await
                .is_err()
            {
                return Err(None);
            }
            if last {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// `GET /shard?from=N` with N the lines received, the last frame among them: the agent's
/// sign that everything arrived.
async fn ack(client: &Client, namespace: &str, pod: &str, lines: usize) -> Result<(), String> {
    let req = http::Request::get(path(namespace, pod, lines))
        .body(kube::client::Body::empty())
        .map_err(|e| e.to_string())?;
    let res = client.send(req).await.map_err(|e| e.to_string())?;
    let _ = res.into_body().collect().await;
    Ok(())
}

/// Asks an agent to stop (`POST /stop` through the pod proxy): it cancels its share and
/// writes its last frame, which its follower then reads as usual.
pub async fn stop(client: &Client, namespace: &str, pod: &str) -> Result<(), String> {
    let req = http::Request::post(format!(
        "/api/v1/namespaces/{namespace}/pods/{pod}:{AGENT_PORT}/proxy/stop"
    ))
    .body(kube::client::Body::empty())
    .map_err(|e| e.to_string())?;
    let res = client
        .send(req)
        .await
        .map_err(|e| crate::source::errors::with_cause(&e))?;
    let status = res.status();
    let _ = res.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_proxy_path_names_pod_port_and_line() {
        assert_eq!(
            super::path("load", "meshtop-agents-1-0-x", 7),
            "/api/v1/namespaces/load/pods/meshtop-agents-1-0-x:9797/proxy/shard?from=7&pod=meshtop-agents-1-0-x"
        );
    }
}
