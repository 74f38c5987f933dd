//! gRPC statuses whose messages carry peer-controlled text.
//!
//! A status message travels in a header, so whatever a peer can make us echo into one (a
//! synapse key, a decoding error) is clipped to a length that fits comfortably there.

use tonic::Status;

/// gRPC status messages travel in a header: keep peer-controlled text short.
const MAX_STATUS_MESSAGE: usize = 512;

/// A status whose message is clipped to fit comfortably in a header.
pub(crate) fn status(code: tonic::Code, message: String) -> Status {
    Status::new(code, clip(message))
}

pub(crate) fn unauthenticated(e: impl std::fmt::Display) -> Status {
    status(tonic::Code::Unauthenticated, e.to_string())
}

fn clip(mut s: String) -> String {
    if s.len() > MAX_STATUS_MESSAGE {
        let mut end = MAX_STATUS_MESSAGE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_long_messages_on_char_boundaries() {
        let s = clip("é".repeat(400));
        assert!(s.len() <= MAX_STATUS_MESSAGE + '…'.len_utf8());
        assert!(s.ends_with('…'));
        assert_eq!(clip("short".into()), "short");
    }
}
