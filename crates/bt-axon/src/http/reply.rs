//! Answers: the status code, the SDK's JSON error body `{"message": …}`, and the terminal
//! headers that the SDK's dendrite reads its outcome from.

use bt_http::status;

use super::call::HandlerError;

/// A refusal or failure, before it is turned into an HTTP response.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl Reply {
    pub(crate) fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(e: impl ToString) -> Self {
        Self::new(status::BAD_REQUEST, e.to_string())
    }

    pub(crate) fn internal(e: impl ToString) -> Self {
        Self::new(status::INTERNAL, e.to_string())
    }

    pub(crate) fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "message": self.message }))
            .unwrap_or_else(|_| b"{}".to_vec())
    }
}

impl From<HandlerError> for Reply {
    fn from(e: HandlerError) -> Self {
        Self::new(e.status, e.message)
    }
}
