//! An HTTP body that sends a framed message's chunks ([`crate::framing::encode_framed`]) as
//! they are, then optional trailers.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};

pub struct ChunkedBody {
    chunks: VecDeque<Bytes>,
    trailers: Option<HeaderMap>,
}

impl ChunkedBody {
    pub fn new(chunks: Vec<Bytes>, trailers: Option<HeaderMap>) -> Self {
        Self {
            chunks: chunks.into(),
            trailers,
        }
    }
}

impl Body for ChunkedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(chunk) = self.chunks.pop_front() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.chunks.iter().map(|c| c.len() as u64).sum())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail loudly by design

    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn chunks_then_trailers() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        let chunks = vec![Bytes::from_static(b"ab"), Bytes::from_static(b"cde")];
        let body = ChunkedBody::new(chunks, Some(trailers.clone()));
        assert_eq!(body.size_hint().exact(), Some(5));
        let collected = body.collect().await.unwrap();
        assert_eq!(collected.trailers(), Some(&trailers));
        assert_eq!(&collected.to_bytes()[..], b"abcde");
    }
}
