use thiserror::Error;

/// A synapse body that cannot be read or written. The message names the field or the position.
#[derive(Debug, Error)]
pub enum BodyError {
    /// Not JSON, or JSON that ended early.
    #[error("request body is not valid JSON: {0}")]
    Syntax(String),
    /// JSON of the wrong shape: a wrong type, an unknown or duplicate field.
    #[error("request body does not match the synapse: {0}")]
    Shape(String),
    #[error("required field `{0}` is missing")]
    MissingField(&'static str),
    #[error("cannot encode the synapse as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// A `bt.Tensor` field whose buffer, dtype or shape is not what it claims.
    #[error("tensor field: {0}")]
    Tensor(String),
}

impl BodyError {
    pub(crate) fn from_json(e: serde_json::Error) -> Self {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => Self::Syntax(e.to_string()),
            Category::Data => Self::Shape(e.to_string()),
        }
    }
}
