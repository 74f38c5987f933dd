//! A request's body as the handler reads it: its one message as soon as the last byte is in,
//! then its trailers (where a version-2 session request may send its proof).

use bt_wire::TensorMessage;
use bt_wire::framing::{FramingError, MessageReader};
use bt_wire::scan::DecodeLimits;
use http::HeaderMap;
use http_body_util::BodyExt;
use tonic::{Code, Status};

use crate::status::status;

/// A request's body: its one message, then its trailers.
pub(crate) struct RequestBody {
    body: tonic::body::Body,
    reader: MessageReader,
    trailers: Option<HeaderMap>,
    ended: bool,
}

impl RequestBody {
    /// A body whose message may be at most `max_message_bytes` long and hold at most what
    /// `limits` allow (checked on its bytes, before it is decoded).
    pub(crate) fn new(
        body: tonic::body::Body,
        max_message_bytes: usize,
        limits: DecodeLimits,
    ) -> Self {
        Self {
            body,
            reader: MessageReader::with_limits(max_message_bytes, limits),
            trailers: None,
            ended: false,
        }
    }

    /// The request message, as soon as its last byte is in.
    pub(crate) async fn message(&mut self) -> Result<TensorMessage, Status> {
        loop {
            if let Some(msg) = self.reader.take().map_err(refusal)? {
                return Ok(msg);
            }
            if !self.next_frame().await? {
                self.reader.finish().map_err(refusal)?;
                return Err(Status::invalid_argument("the request carries no message"));
            }
        }
    }

    /// The request's trailers, once the body has ended (bytes after the message are refused).
    pub(crate) async fn trailers(&mut self) -> Result<Option<HeaderMap>, Status> {
        while self.next_frame().await? {}
        Ok(self.trailers.take())
    }

    /// Reads one frame; `false` once the body has ended.
    async fn next_frame(&mut self) -> Result<bool, Status> {
        if self.ended {
            return Ok(false);
        }
        match self.body.frame().await {
            None => self.ended = true,
            Some(Err(e)) => return Err(e),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => self.reader.push(data).map_err(refusal)?,
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        self.trailers = Some(trailers);
                    }
                    self.ended = true;
                }
            },
        }
        Ok(!self.ended)
    }
}

fn refusal(e: FramingError) -> Status {
    let code = match e {
        FramingError::Compressed => Code::Unimplemented,
        // Over a size or count cap, like a message over the size limit (tonic's code for it).
        FramingError::TooLarge { .. } | FramingError::OverLimit(_) => Code::OutOfRange,
        FramingError::TrailingData | FramingError::Truncated { .. } | FramingError::Decode(_) => {
            Code::InvalidArgument
        }
    };
    status(code, e.to_string())
}
