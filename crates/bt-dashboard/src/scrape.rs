//! `GET /metrics` of a neuron or chain node: one HTTP/1.0 request on a fresh connection, read
//! to its end within a deadline and a size cap (the answer is untrusted).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::DashboardError;

/// Reads `http://{addr}/metrics` (an `addr` of `host:port`) within `timeout`, refusing an
/// answer larger than `max_bytes`.
pub async fn fetch_metrics(
    addr: &str,
    timeout: Duration,
    max_bytes: usize,
) -> Result<String, DashboardError> {
    let target = addr.to_string();
    let work = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| DashboardError::Scrape {
                target: target.clone(),
                why: e.to_string(),
            })?;
        let request =
            format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\nAccept: text/plain\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| DashboardError::Scrape {
                target: target.clone(),
                why: e.to_string(),
            })?;
        let mut body = Vec::with_capacity(16 * 1024);
        // One byte past the cap tells an oversized answer from one that fits exactly.
        let mut limited = (&mut stream).take(max_bytes as u64 + 1);
        limited
            .read_to_end(&mut body)
            .await
            .map_err(|e| DashboardError::Scrape {
                target: target.clone(),
                why: e.to_string(),
            })?;
        if body.len() > max_bytes {
            return Err(DashboardError::Scrape {
                target: target.clone(),
                why: format!("answer larger than {max_bytes} bytes"),
            });
        }
        split_response(&body).map_err(|why| DashboardError::Scrape {
            target: target.clone(),
            why,
        })
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| DashboardError::Scrape {
            target: addr.to_string(),
            why: format!("no answer within {timeout:?}"),
        })?
}

/// The body of a `200` answer.
fn split_response(raw: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "answer is not UTF-8".to_string())?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "answer has no header end".to_string())?;
    let status = head.lines().next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if code != "200" {
        return Err(format!(
            "answered {}",
            status.chars().take(80).collect::<String>()
        ));
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_200_answer_has_a_body() {
        assert_eq!(
            split_response(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc").as_deref(),
            Ok("abc")
        );
        assert!(split_response(b"HTTP/1.1 404 Not Found\r\n\r\nno").is_err());
        assert!(split_response(b"garbage").is_err());
    }
}
