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

/// What a route produces for the server: the answer's JSON body, given the envelope to embed.
pub(crate) type Answer = Box<dyn FnOnce(&Envelope) -> Result<Vec<u8>, Reply> + Send>;

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

pub(crate) struct TypedRoute<T, F> {
    handler: Arc<F>,
    _synapse: PhantomData<fn() -> T>,
}

impl<T, F> TypedRoute<T, F> {
    pub(crate) fn new(handler: F) -> Self {
        Self {
            handler: Arc::new(handler),
            _synapse: PhantomData,
        }
    }
}

impl<T, F, Fut> Route for TypedRoute<T, F>
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
            let synapse = if large {
                tokio::task::spawn_blocking(parse)
                    .await
                    .map_err(|e| Reply::internal(format!("request parser failed: {e}")))??
            } else {
                parse()?
            };
            let answered = handler(synapse, call).await.map_err(Reply::from)?;
            let answer: Answer =
                Box::new(move |env: &Envelope| answered.to_body(env).map_err(Reply::internal));
            Ok(answer)
        })
    }
}

fn bt_http_clip(s: &str) -> String {
    s.chars().take(80).collect()
}
