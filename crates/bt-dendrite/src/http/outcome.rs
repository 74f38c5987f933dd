//! How one HTTP call went, as the SDK reports it on `synapse.dendrite`.

use std::time::Duration;

use bt_http::{TerminalInfo, status};

/// The outcome of one call: the SDK's `status_code` / `status_message` (from the axon's
/// `bt_header_axon_*` headers when it sent them, else from the terminal in a successful
/// answer's body, else from the HTTP status and the error body), the axon's own processing
/// time, and our wall time.
#[derive(Clone, Debug, PartialEq)]
pub struct CallOutcome {
    pub status_code: u16,
    pub status_message: String,
    /// Seconds the axon says it spent (`bt_header_axon_process_time`).
    pub process_time: Option<f64>,
    /// Our time from sending to having the whole answer.
    pub elapsed: Duration,
    /// The axon's terminal information as it echoed it.
    pub axon: TerminalInfo,
    /// `Some(true)` when the answer carried our axons' signature and it verified; `None` when
    /// it carried none (SDK axons).
    pub response_signed: Option<bool>,
    /// The call was authenticated by a session with the axon (a MAC instead of a signature;
    /// the answer's MAC is what `response_signed` then reports).
    pub session: bool,
}

impl CallOutcome {
    pub fn is_success(&self) -> bool {
        self.status_code == status::SUCCESS
    }

    pub(crate) fn failed(code: u16, message: impl Into<String>) -> Self {
        Self {
            status_code: code,
            status_message: message.into(),
            process_time: None,
            elapsed: Duration::ZERO,
            axon: TerminalInfo::default(),
            response_signed: None,
            session: false,
        }
    }

    pub(crate) fn from_answer(http_status: u16, axon: &TerminalInfo, body: &[u8]) -> Self {
        let code = axon
            .status_code
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(http_status);
        let message = axon.status_message.clone().or_else(|| {
            (http_status != status::SUCCESS)
                .then(|| error_message(body))
                .flatten()
        });
        Self {
            status_code: code,
            status_message: message.unwrap_or_else(|| status::default_message(code).to_string()),
            process_time: axon.process_time,
            elapsed: Duration::ZERO,
            axon: axon.clone(),
            response_signed: None,
            session: false,
        }
    }

    /// Take the axon's report from the terminal its answer's body carries, for an answer
    /// without the echo headers (the HTTP status stands when the terminal has no code).
    pub(crate) fn adopt_body_terminal(&mut self, axon: TerminalInfo) {
        if let Some(code) = axon.status_code.and_then(|c| u16::try_from(c).ok()) {
            self.status_code = code;
        }
        if let Some(message) = &axon.status_message {
            self.status_message.clone_from(message);
        }
        self.process_time = axon.process_time;
        self.axon = axon;
    }
}

/// `{"message": …}` of an error answer, if it is one.
fn error_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("message")?.as_str().map(str::to_string)
}

/// A call that failed before an answer could be read: a code and a message (small, so that
/// `Result`s carrying it stay small).
pub(crate) struct Failed {
    code: u16,
    message: String,
}

impl Failed {
    pub(crate) fn new(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<Failed> for CallOutcome {
    fn from(f: Failed) -> Self {
        CallOutcome::failed(f.code, f.message)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn headers_win_over_the_http_status() {
        let axon = TerminalInfo {
            status_code: Some(200),
            status_message: Some("Success".into()),
            process_time: Some(0.5),
            ..TerminalInfo::default()
        };
        let o = CallOutcome::from_answer(200, &axon, b"{}");
        assert!(o.is_success());
        assert_eq!(o.process_time, Some(0.5));
        let o = CallOutcome::from_answer(401, &TerminalInfo::default(), br#"{"message":"no"}"#);
        assert_eq!((o.status_code, o.status_message.as_str()), (401, "no"));
    }

    #[test]
    fn a_body_terminal_stands_in_for_missing_echo_headers() {
        let mut o = CallOutcome::from_answer(200, &TerminalInfo::default(), b"{}");
        assert_eq!(o.process_time, None);
        o.adopt_body_terminal(TerminalInfo {
            status_code: Some(200),
            status_message: Some("Success".into()),
            process_time: Some(0.25),
            hotkey: Some("5Axon".into()),
            ..TerminalInfo::default()
        });
        assert!(o.is_success());
        assert_eq!(o.status_message, "Success");
        assert_eq!(o.process_time, Some(0.25));
        assert_eq!(o.axon.hotkey.as_deref(), Some("5Axon"));
        // A terminal without a code leaves the HTTP status's.
        let mut o = CallOutcome::from_answer(200, &TerminalInfo::default(), b"{}");
        o.adopt_body_terminal(TerminalInfo::default());
        assert_eq!(o.status_code, 200);
    }
}
