//! Answers from outside, read with their size cap checked while they stream: a larger
//! answer is refused at `max` bytes, never buffered whole first.

use futures::AsyncReadExt;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The request itself failed (the caller maps it: `errors::kube_error`).
    Request(kube::Error),
    /// More than `max` bytes came; reading stopped there.
    TooLarge { max: u64 },
    /// The connection failed while the body streamed.
    Read(String),
}

impl BodyError {
    /// What the user reads; a request error is the caller's to word.
    pub fn message(&self) -> String {
        match self {
            BodyError::Request(e) => e.to_string(),
            BodyError::TooLarge { max } => too_large(*max),
            BodyError::Read(e) => format!("reading the response: {e}"),
        }
    }
}

/// The one wording of a refused answer: `response larger than 10 MiB, not parsed`.
pub fn too_large(max: u64) -> String {
    if max >= 1024 * 1024 {
        format!("response larger than {} MiB, not parsed", max / 1024 / 1024)
    } else {
        format!("response larger than {} KiB, not parsed", max / 1024)
    }
}

/// A reqwest response's body, at most `max` bytes.
pub async fn from_reqwest(mut resp: reqwest::Response, max: u64) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > max) {
        return Err(BodyError::TooLarge { max });
    }
    let mut buf = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| BodyError::Read(super::errors::innermost(&e)))?
    {
        if (buf.len() + chunk.len()) as u64 > max {
            return Err(BodyError::TooLarge { max });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// A request through the API server (a service or pod proxy, an aggregated API), its
/// body at most `max` bytes.
pub async fn from_kube(client: &kube::Client, req: http::Request<Vec<u8>>, max: u64) -> Result<Vec<u8>, BodyError> {
    let reader = client.request_stream(req).await.map_err(BodyError::Request)?;
    let mut buf = Vec::new();
    let mut limited = std::pin::pin!(reader.take(max + 1));
    limited
        .read_to_end(&mut buf)
        .await
        .map_err(|e| BodyError::Read(e.to_string()))?;
    if buf.len() as u64 > max {
        return Err(BodyError::TooLarge { max });
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_worded_in_the_unit_of_the_cap() {
        assert_eq!(too_large(10 * 1024 * 1024), "response larger than 10 MiB, not parsed");
        assert_eq!(too_large(64 * 1024), "response larger than 64 KiB, not parsed");
    }
}
