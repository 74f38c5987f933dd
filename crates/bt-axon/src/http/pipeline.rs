//! One request, in the order that keeps an attacker's cost above ours: route and per-IP cap,
//! headers, declared size, signature (before the body when the scheme allows: v10 signs a hash
//! carried in a header), body under a size cap and a deadline, replay, hooks, the priority
//! gate, and only then the synapse's parser and handler.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bt_crypto::http_auth::{
    AuthError, BtAuthHeaders, BtAuthPolicy, BtAuthRequest, NonceError, ReplayStore, V10Request,
    verify_btauth,
};
use bt_crypto::unix_nanos;
use bt_crypto::wallet::{AccountId, Sr25519Pair};
use bt_http::headers::{SynapseHeaders, TERMINALS_IN_BODY, write_synapse_headers};
use bt_http::{Envelope, TerminalInfo, status};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use tokio::sync::Semaphore;

use super::HttpAxonConfig;
use super::call::{AuthScheme, BlacklistFn, CallInfo, PriorityFn, VerifyFn};
use super::limits::{Gate, GateRefusal};
use super::metrics::HttpMetrics;
use super::reply::Reply;
use super::route::{Answer, ChunkStream, Route};
use super::session::{SessionCall, Sessions};
use crate::per_key::PerKey;
use crate::verify::{BatchVerifier, V10Checks};
use bt_crypto::http_auth::session::SessionHeaders;
use bt_crypto::session::SessionAccept;

/// Everything the request path shares.
pub(crate) struct Ctx {
    pub(crate) config: HttpAxonConfig,
    pub(crate) hotkey: Arc<Sr25519Pair>,
    pub(crate) account: AccountId,
    /// `account` as SS58, encoded once (every answer carries it).
    pub(crate) ss58: String,
    pub(crate) routes: HashMap<String, Arc<dyn Route>>,
    pub(crate) route_names: Vec<String>,
    pub(crate) blacklist: Option<Arc<BlacklistFn>>,
    pub(crate) priority: Option<Arc<PriorityFn>>,
    pub(crate) verify: Option<Arc<VerifyFn>>,
    pub(crate) replay: Mutex<ReplayStore<AccountId>>,
    /// SDK v10 signatures, verified in batches with concurrent requests'.
    pub(crate) v10: BatchVerifier<V10Checks>,
    pub(crate) per_ip: Arc<PerKey<IpAddr>>,
    pub(crate) per_hotkey: Arc<PerKey<AccountId>>,
    pub(crate) in_flight: Arc<Semaphore>,
    /// KiB of btauth/1 bodies held before their signature is checked.
    pub(crate) unverified: Arc<Semaphore>,
    /// The same, per source address.
    pub(crate) unverified_per_ip: Arc<PerKey<IpAddr>>,
    pub(crate) gate: Arc<Gate>,
    pub(crate) metrics: HttpMetrics,
    pub(crate) uuid: String,
    pub(crate) local: SocketAddr,
    /// Sessions with our dendrites (`None` when off).
    pub(crate) sessions: Option<Sessions>,
}

impl Ctx {
    fn replay_store(&self) -> std::sync::MutexGuard<'_, ReplayStore<AccountId>> {
        // The store is consistent after every call: a panic elsewhere cannot leave it halfway.
        self.replay.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the answer needs to know about the request, known progressively.
#[derive(Default)]
struct Seen {
    synapse: Option<String>,
    headers: SynapseHeaders,
    nonce: Option<i64>,
    caller: Option<AccountId>,
    /// The caller authenticated with btauth/1: it can check our answer's signature.
    btauth: bool,
    /// The request was authenticated by a session: its answer carries the session's MAC.
    session: Option<SessionCall>,
    /// A session this request opened.
    accept: Option<SessionAccept>,
    /// The caller's terminal as the answer's body echoed it: the headers echo the same.
    dendrite: Option<TerminalInfo>,
    /// The caller reads a successful answer's terminals from its body (our dendrites), so the
    /// headers need not echo them.
    terminals_in_body: bool,
}

/// The body of every answer: a JSON document, or a streaming synapse's chunks.
pub(crate) type AnswerBody = UnsyncBoxBody<Bytes, Infallible>;

/// What a successful request produced.
enum Produced {
    Json(Vec<u8>),
    Stream(ChunkStream, Instant),
}

pub(crate) async fn handle<B>(
    ctx: Arc<Ctx>,
    peer: SocketAddr,
    req: Request<B>,
) -> Response<AnswerBody>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let started = Instant::now();
    if req.uri().path() == "/metrics" && req.method() == http::Method::GET {
        let mut text = ctx.metrics.to_prometheus();
        if let Some(sessions) = &ctx.sessions {
            text.push_str(&sessions.to_prometheus());
        }
        let mut resp = Response::new(full(text.into_bytes()));
        resp.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        return resp;
    }
    let mut seen = Seen::default();
    let result = process(&ctx, peer, req, started, &mut seen).await;
    let (code, message, body) = match result {
        Ok(body) => (
            status::SUCCESS,
            status::default_message(status::SUCCESS).to_string(),
            body,
        ),
        Err(reply) => {
            let body = Produced::Json(reply.body());
            (reply.status, reply.message, body)
        }
    };
    let elapsed = started.elapsed();
    ctx.metrics.record(seen.synapse.as_deref(), code, elapsed);
    respond(&ctx, &mut seen, peer, code, &message, elapsed, body)
}

async fn process<B>(
    ctx: &Ctx,
    peer: SocketAddr,
    req: Request<B>,
    started: Instant,
    seen: &mut Seen,
) -> Result<Produced, Reply>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if req.method() != http::Method::POST && req.method() != http::Method::GET {
        return Err(Reply::new(405, "synapses are called with POST"));
    }
    let (parts, body) = req.into_parts();
    let name = parts.uri.path().trim_start_matches('/');
    let Some(route) = ctx.routes.get(name).cloned() else {
        return Err(Reply::new(
            status::UNKNOWN_SYNAPSE,
            format!(
                "Synapse name '{}' not found. Available synapses {:?}",
                name.chars().take(64).collect::<String>(),
                ctx.route_names
            ),
        ));
    };
    seen.synapse = Some(name.to_string());

    let _ip_guard = ctx.per_ip.try_acquire(peer.ip()).ok_or_else(|| {
        Reply::new(
            status::UNAVAILABLE,
            format!(
                "too many requests in flight from {} (limit {})",
                peer.ip(),
                ctx.config.max_in_flight_per_ip
            ),
        )
    })?;
    let _slot = ctx.in_flight.clone().try_acquire_owned().map_err(|_| {
        Reply::new(
            status::UNAVAILABLE,
            format!(
                "axon is full ({} requests in flight)",
                ctx.config.max_in_flight
            ),
        )
    })?;

    seen.headers = SynapseHeaders::parse(
        parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes())),
    )
    .map_err(Reply::bad_request)?;
    seen.terminals_in_body = parts.headers.contains_key(TERMINALS_IN_BODY);
    if let Some(len) = content_length(&parts.headers)
        && len > ctx.config.max_body_bytes as u64
    {
        return Err(Reply::new(
            status::PAYLOAD_TOO_LARGE,
            format!(
                "body of {len} bytes exceeds this axon's limit of {} bytes",
                ctx.config.max_body_bytes
            ),
        ));
    }
    let timeout = seen
        .headers
        .timeout
        // Finite but past `Duration`'s range (`1e20`): `from_secs_f64` would panic; it can only
        // mean "as long as allowed".
        .map(|t| Duration::try_from_secs_f64(t).unwrap_or(Duration::MAX))
        .unwrap_or(ctx.config.default_timeout)
        .min(ctx.config.max_timeout);
    let deadline = started + timeout;

    let session = match &ctx.sessions {
        Some(_) => super::session::parse(&parts.headers).map_err(auth_reply)?,
        None => SessionHeaders::None,
    };
    let btauth = parts.headers.contains_key("x-bittensor-version");
    let mut signed_hash = None;
    let scheme = if let SessionHeaders::Proof(proof) = &session {
        let Some(sessions) = &ctx.sessions else {
            return Err(Reply::new(
                status::NOT_VERIFIED,
                "this axon does not accept sessions: sign the request",
            ));
        };
        // The MAC is checked before freshness: it is cheap, and a forger learns nothing.
        let call = sessions
            .authenticate(proof, &parts.headers, &ctx.ss58, peer)
            .map_err(auth_reply)?;
        ctx.replay_store()
            .check_fresh(call.nonce, unix_nanos())
            .map_err(|e| auth_reply(e.into()))?;
        seen.caller = Some(call.caller);
        seen.nonce = Some(call.nonce);
        seen.session = Some(call);
        signed_hash = Some(
            parts
                .headers
                .get("computed_body_hash")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
        );
        AuthScheme::Session
    } else if btauth {
        AuthScheme::BtAuth
    } else if ctx.config.accept_v10 {
        // v10 signs the hash header, so the signature is checked before the body is read.
        let header = |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
        let body_hash = header("computed_body_hash").unwrap_or("");
        let v10 = V10Request {
            nonce: header("bt_header_dendrite_nonce"),
            dendrite_hotkey: header("bt_header_dendrite_hotkey"),
            dendrite_uuid: header("bt_header_dendrite_uuid").unwrap_or(""),
            signature: header("bt_header_dendrite_signature"),
            body_hash,
        };
        // Freshness is cheap and checked first; the signature is verified outside the replay
        // store's lock (batched with concurrent requests); only a verified nonce is recorded.
        let claim = Arc::new(v10.claim(&ctx.ss58).map_err(auth_reply)?);
        ctx.replay_store()
            .check_fresh(claim.nonce, unix_nanos())
            .map_err(|e| auth_reply(e.into()))?;
        let alone = ctx.in_flight.available_permits() + 1 >= ctx.config.max_in_flight;
        ctx.v10
            .verify(claim.clone(), alone)
            .await
            .map_err(auth_reply)?;
        ctx.replay_store()
            .check_and_record(&claim.hotkey, claim.nonce, unix_nanos())
            .map_err(|e| auth_reply(e.into()))?;
        let caller = claim.hotkey;
        seen.caller = Some(caller);
        seen.nonce = seen.headers.dendrite.nonce;
        signed_hash = Some(body_hash.to_string());
        AuthScheme::V10
    } else {
        return Err(Reply::new(
            status::NOT_VERIFIED,
            "this axon accepts only btauth/1 requests (X-Bittensor-* headers)",
        ));
    };

    // btauth/1 signs the raw body, so its body is read before anyone is authenticated: such
    // bodies are held against a byte budget shared by all unauthenticated requests, and the
    // header checks that need no body come first.
    let mut unverified = None;
    let btauth_headers = if scheme == AuthScheme::BtAuth {
        let headers = BtAuthHeaders::from_pairs(
            parts
                .headers
                .iter()
                .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v))),
        )
        .map_err(auth_reply)?;
        let len = content_length(&parts.headers).ok_or_else(|| {
            Reply::new(
                411,
                "a btauth/1 request must state its content-length (its body is read before it \
                 is authenticated)",
            )
        })?;
        let kib = u32::try_from(len.div_ceil(1024)).unwrap_or(u32::MAX).max(1);
        let from_ip = ctx
            .unverified_per_ip
            .try_acquire_units(peer.ip(), kib as usize)
            .ok_or_else(|| {
                Reply::new(
                    status::UNAVAILABLE,
                    format!(
                        "too many unauthenticated bodies in memory from {} (budget {} bytes per \
                         address); retry shortly",
                        peer.ip(),
                        ctx.config.max_unverified_body_bytes_per_ip
                    ),
                )
            })?;
        let total = ctx.unverified.clone().try_acquire_many_owned(kib).map_err(|_| {
            Reply::new(
                status::UNAVAILABLE,
                format!(
                    "too many unauthenticated bodies in memory (budget {} bytes); retry shortly",
                    ctx.config.max_unverified_body_bytes
                ),
            )
        })?;
        unverified = Some((from_ip, total));
        Some(headers)
    } else {
        None
    };

    let body = read_body(
        body,
        ctx.config.max_body_bytes,
        deadline.min(started + ctx.config.body_read_timeout),
    )
    .await?;

    if let Some(headers) = btauth_headers {
        let target = parts
            .uri
            .path_and_query()
            .map_or(parts.uri.path(), |pq| pq.as_str());
        let request = BtAuthRequest {
            method: parts.method.as_str(),
            target,
            body: &body,
        };
        let policy = BtAuthPolicy {
            self_hotkey: &ctx.account,
            require_receiver: true,
        };
        let caller = {
            let mut store = ctx.replay.lock().unwrap_or_else(PoisonError::into_inner);
            verify_btauth(&headers, &request, &policy, &mut store, unix_nanos())
        }
        .map_err(auth_reply)?;
        seen.caller = Some(caller.hotkey);
        seen.nonce = Some(caller.nonce);
        seen.btauth = true;
        drop(unverified.take());
    }
    let Some(hotkey) = seen.caller else {
        return Err(Reply::internal("caller not authenticated"));
    };

    let _hotkey_guard = ctx.per_hotkey.try_acquire(hotkey).ok_or_else(|| {
        Reply::new(
            status::UNAVAILABLE,
            format!(
                "too many requests in flight from hotkey {hotkey} (limit {})",
                ctx.config.max_in_flight_per_hotkey
            ),
        )
    })?;
    let call = CallInfo {
        synapse: name.to_string(),
        hotkey,
        scheme,
        peer,
        nonce: seen.nonce.unwrap_or(0),
        uuid: seen.headers.dendrite.uuid.clone(),
        version: seen.headers.dendrite.version,
        deadline,
    };
    if let Some(blacklist) = &ctx.blacklist
        && let Some(reason) = blacklist(&call)
    {
        return Err(Reply::new(
            status::BLACKLISTED,
            format!("Forbidden. Key is blacklisted: {reason}."),
        ));
    }
    if let Some(verify) = &ctx.verify
        && let Err(reason) = verify(&call)
    {
        return Err(Reply::new(
            status::NOT_VERIFIED,
            format!("Not Verified with error: {reason}"),
        ));
    }
    let priority = ctx.priority.as_ref().map_or(0.0, |p| p(&call));
    let timed_out = || {
        Reply::new(
            status::TIMEOUT,
            format!("timed out after {:.3} s", timeout.as_secs_f64()),
        )
    };
    let deadline_tokio = tokio::time::Instant::from_std(deadline);
    let _permit = match tokio::time::timeout_at(deadline_tokio, ctx.gate.enter(priority)).await {
        Err(_) => return Err(timed_out()),
        Ok(Err(GateRefusal::QueueFull)) => {
            return Err(Reply::new(
                status::UNAVAILABLE,
                "Response timeout after: queue full of higher-priority requests",
            ));
        }
        Ok(Err(GateRefusal::Displaced)) => {
            return Err(Reply::new(
                status::UNAVAILABLE,
                "displaced from the queue by higher-priority requests",
            ));
        }
        Ok(Ok(permit)) => permit,
    };
    let answer = tokio::time::timeout_at(deadline_tokio, route.call(body, signed_hash, call))
        .await
        .map_err(|_| timed_out())??;
    let answer = match answer {
        Answer::Json(answer) => answer,
        Answer::Stream(chunks) => return Ok(Produced::Stream(chunks, deadline)),
    };
    // A session is opened only by a signed request that was served: the caller is
    // authenticated, authorised by the hooks, and will use it.
    if let (SessionHeaders::Offer(offer, version), Some(sessions)) = (&session, &ctx.sessions)
        && scheme != AuthScheme::Session
    {
        seen.accept = sessions.open(offer, *version, &hotkey, &parts, &ctx.ss58, peer);
    }
    let envelope = Envelope {
        name: Some(name.to_string()),
        timeout: Some(timeout.as_secs_f64()),
        dendrite: Some(dendrite_terminal(&seen.headers, peer)),
        axon: Some(axon_terminal(
            ctx,
            status::SUCCESS,
            status::default_message(status::SUCCESS),
            started.elapsed(),
        )),
        computed_body_hash: seen.headers.computed_body_hash.clone(),
        ..Envelope::default()
    };
    let body = answer(&envelope).map(Produced::Json);
    seen.dendrite = envelope.dendrite;
    body
}

fn full(bytes: Vec<u8>) -> AnswerBody {
    Full::new(Bytes::from(bytes))
        .map_err(|e| match e {})
        .boxed_unsync()
}

/// A stream's chunks as body frames, ended at the call's deadline.
fn streamed(chunks: ChunkStream, deadline: Instant) -> AnswerBody {
    use futures_util::StreamExt;
    let until = tokio::time::Instant::from_std(deadline);
    let frames = chunks
        .take_until(tokio::time::sleep_until(until))
        .map(|c| Ok::<_, Infallible>(Frame::data(c)));
    StreamBody::new(frames).boxed_unsync()
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

async fn read_body<B>(body: B, max: usize, until: Instant) -> Result<Bytes, Reply>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limited = Limited::new(body, max);
    match tokio::time::timeout_at(tokio::time::Instant::from_std(until), limited.collect()).await {
        Err(_) => Err(Reply::new(
            status::TIMEOUT,
            "the request body did not arrive in time",
        )),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(Reply::new(
                    status::PAYLOAD_TOO_LARGE,
                    format!("body exceeds this axon's limit of {max} bytes"),
                ))
            } else {
                Err(Reply::bad_request(format!("reading the body failed: {e}")))
            }
        }
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

fn auth_reply(e: AuthError) -> Reply {
    match e {
        AuthError::Nonce(NonceError::Busy { .. }) => Reply::new(status::UNAVAILABLE, e.to_string()),
        e => Reply::new(
            status::NOT_VERIFIED,
            format!("Not Verified with error: {e}"),
        ),
    }
}

fn dendrite_terminal(headers: &SynapseHeaders, peer: SocketAddr) -> TerminalInfo {
    TerminalInfo {
        ip: Some(peer.ip().to_string()),
        port: Some(i64::from(peer.port())),
        ..headers.dendrite.clone()
    }
}

fn axon_terminal(ctx: &Ctx, code: u16, message: &str, elapsed: Duration) -> TerminalInfo {
    TerminalInfo {
        status_code: Some(i64::from(code)),
        status_message: Some(message.to_string()),
        process_time: Some(elapsed.as_secs_f64()),
        ip: Some(ctx.local.ip().to_string()),
        port: Some(i64::from(ctx.local.port())),
        version: Some(bt_http::version_as_int()),
        nonce: Some(unix_nanos()),
        uuid: Some(ctx.uuid.clone()),
        hotkey: Some(ctx.ss58.clone()),
        signature: None,
    }
}

fn respond(
    ctx: &Ctx,
    seen: &mut Seen,
    peer: SocketAddr,
    code: u16,
    message: &str,
    elapsed: Duration,
    body: Produced,
) -> Response<AnswerBody> {
    let mut headers = HeaderMap::with_capacity(32);
    // An error's body is only `{"message": …}` and a stream's has no terminals: those answers
    // echo them in headers whoever asks.
    let echo = !(seen.terminals_in_body && code == status::SUCCESS)
        || matches!(body, Produced::Stream(..));
    if echo {
        let envelope = Envelope {
            name: seen.synapse.clone(),
            timeout: seen.headers.timeout,
            dendrite: Some(
                seen.dendrite
                    .take()
                    .unwrap_or_else(|| dendrite_terminal(&seen.headers, peer)),
            ),
            axon: Some(axon_terminal(ctx, code, message, elapsed)),
            ..Envelope::default()
        };
        let hash = seen
            .headers
            .computed_body_hash
            .as_deref()
            .unwrap_or_default();
        // A value that cannot be a header (a message with a control character) is left out:
        // the body still carries it.
        let _ = write_synapse_headers(&mut headers, &envelope, &[], hash);
    }
    // Only btauth/1 callers get a signed answer: an SDK v10 dendrite ignores the header, so
    // signing for it would cost an sr25519 signature per request for nothing.
    if let (Some(caller), true, Produced::Json(body)) = (&seen.caller, seen.btauth, &body) {
        let signature = bt_crypto::http_auth::sign_response(
            &ctx.hotkey,
            code,
            body,
            seen.nonce.unwrap_or(0),
            caller,
        );
        if let Ok(v) = HeaderValue::try_from(signature) {
            headers.insert(bt_http::headers::RESPONSE_SIGNATURE, v);
        }
    }
    if ctx.sessions.is_some() {
        let json = match &body {
            Produced::Json(b) => Some(b.as_slice()),
            Produced::Stream(..) => None,
        };
        super::session::answer_headers(
            &mut headers,
            seen.accept.as_ref(),
            seen.session.as_ref(),
            code,
            json,
        );
    }
    let (content_type, body) = match body {
        Produced::Json(b) => ("application/json", full(b)),
        Produced::Stream(chunks, deadline) => ("text/event-stream", streamed(chunks, deadline)),
    };
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    let mut resp = Response::new(body);
    *resp.status_mut() =
        http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    *resp.headers_mut() = headers;
    resp
}
