//! Routes: one per served synapse type, erasing the type behind a boxed future.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use bt_http::{Envelope, TypedSynapse};
use bytes::Bytes;

use super::call::{CallInfo, HandlerError};
use super::reply::Reply;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Bodies larger than this are parsed and serialized on the blocking pool.
const INLINE_JSON_BYTES: usize = 64 << 10;

/// A handler's stream of answer chunks.
pub(crate) type ChunkStream = Pin<Box<dyn tokio_stream::Stream<Item = Bytes> + Send>>;

/// Writes the answer's JSON body, given the envelope to embed.
pub(crate) type WriteJson = Box<dyn FnOnce(&Envelope) -> Result<Vec<u8>, Reply> + Send>;

/// What a route produces for the server.
pub(crate) enum Answer {
    Json(WriteJson),
    /// A streaming synapse's chunks, sent as they come.
    Stream(ChunkStream),
}

pub(crate) trait Route: Send + Sync + 'static {
    /// Parse `body`, check that its hashed fields hash to `signed_hash` (when the scheme signed
    /// one), run the handler.
    fn call(
        &self,
        body: Bytes,
        signed_hash: Option<String>,
        call: CallInfo,
    ) -> BoxFuture<Result<Answer, Reply>>;
}

/// A synapse type's handler, behind [`Route`]. `Kind` is [`Json`] (the handler returns the
/// answered synapse) or [`Streamed`] (it returns the answer's chunks).
pub(crate) struct HandlerRoute<T, F, Kind> {
    handler: Arc<F>,
    _synapse: PhantomData<fn() -> (T, Kind)>,
}

pub(crate) struct Json;
pub(crate) struct Streamed;

impl<T, F, Kind> HandlerRoute<T, F, Kind> {
    pub(crate) fn new(handler: F) -> Self {
        Self {
            handler: Arc::new(handler),
            _synapse: PhantomData,
        }
    }
}

impl<T, F, Fut> Route for HandlerRoute<T, F, Json>
where
    T: TypedSynapse,
    F: Fn(T, CallInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, HandlerError>> + Send + 'static,
{
    fn call(
        &self,
        body: Bytes,
        signed_hash: Option<String>,
        call: CallInfo,
    ) -> BoxFuture<Result<Answer, Reply>> {
        let handler = self.handler.clone();
        Box::pin(async move {
            let synapse: T = parse_checked(body, signed_hash).await?;
            let answered = handler(synapse, call).await.map_err(Reply::from)?;
            Ok(Answer::Json(Box::new(move |env: &Envelope| {
                answered.to_body(env).map_err(Reply::internal)
            })))
        })
    }
}

/// Parse `body` as `T` on the right thread and check its hash against the signed one.
async fn parse_checked<T: TypedSynapse>(
    body: Bytes,
    signed_hash: Option<String>,
) -> Result<T, Reply> {
    let large = body.len() > INLINE_JSON_BYTES;
    let parse = move || -> Result<T, Reply> {
        let (synapse, _) = T::parse_request(&body).map_err(Reply::bad_request)?;
        if let Some(signed) = signed_hash {
            let actual = synapse.body_hash();
            if actual != signed {
                return Err(Reply::bad_request(format!(
                    "hash mismatch: computed_body_hash {} does not match the body's {}",
                    bt_http_clip(&signed),
                    actual
                )));
            }
        }
        Ok(synapse)
    };
    if large {
        tokio::task::spawn_blocking(parse)
            .await
            .map_err(|e| Reply::internal(format!("request parser failed: {e}")))?
    } else {
        parse()
    }
}

impl<T, F, Fut, St> Route for HandlerRoute<T, F, Streamed>
where
    T: TypedSynapse,
    F: Fn(T, CallInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<St, HandlerError>> + Send + 'static,
    St: tokio_stream::Stream<Item = Bytes> + Send + 'static,
{
    fn call(
        &self,
        body: Bytes,
        signed_hash: Option<String>,
        call: CallInfo,
    ) -> BoxFuture<Result<Answer, Reply>> {
        let handler = self.handler.clone();
        Box::pin(async move {
            let synapse: T = parse_checked(body, signed_hash).await?;
            let chunks = handler(synapse, call).await.map_err(Reply::from)?;
            Ok(Answer::Stream(Box::pin(chunks)))
        })
    }
}

fn bt_http_clip(s: &str) -> String {
    s.chars().take(80).collect()
}
