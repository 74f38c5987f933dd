//! The SDK's status codes for a synapse call, and their default messages.

pub const SUCCESS: u16 = 200;
pub const BAD_REQUEST: u16 = 400;
pub const NOT_VERIFIED: u16 = 401;
pub const BLACKLISTED: u16 = 403;
pub const UNKNOWN_SYNAPSE: u16 = 404;
pub const TIMEOUT: u16 = 408;
pub const PAYLOAD_TOO_LARGE: u16 = 413;
/// The dendrite's code for an answer it could not parse.
pub const UNPARSEABLE_RESPONSE: u16 = 422;
pub const INTERNAL: u16 = 500;
pub const UNAVAILABLE: u16 = 503;

/// The SDK's status message for a code when nothing more specific is known.
pub fn default_message(code: u16) -> &'static str {
    match code {
        SUCCESS => "Success",
        BAD_REQUEST => "Bad request",
        NOT_VERIFIED => "Not verified",
        BLACKLISTED => "Forbidden",
        UNKNOWN_SYNAPSE => "Unknown synapse",
        TIMEOUT => "Request timeout",
        PAYLOAD_TOO_LARGE => "Payload too large",
        UNPARSEABLE_RESPONSE => "Failed to parse response",
        INTERNAL => "Internal server error",
        UNAVAILABLE => "Service unavailable",
        _ => "Unknown status",
    }
}
