//! The dendrite for today's Synapse protocol over HTTP: calls SDK v10 axons and ours.
//!
//! A call signs the request with the wallet's hotkey, by the SDK v10 scheme (which SDK axons
//! check) and by btauth/1 (which binds the whole raw body; ours check it first), sends it
//! over a pooled keep-alive connection, and reads the answer under the call's deadline and a
//! size cap. The outcome is reported the way the SDK reports it (`status_code`,
//! `status_message`, the axon's `process_time`), never as an error for a peer's failure. An
//! answer signed by our axons is checked; a forged or altered one is refused.

mod names;
mod outcome;
mod session;
mod stream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bt_crypto::NonceClock;
use bt_crypto::http_auth::{BtAuthPayload, BtAuthSigner, Scheme, v10_message, v10_sign};
use bt_crypto::wallet::{AccountId, Sr25519Pair};
use bt_http::headers::{
    AXON_STATUS_CODE, RESPONSE_SIGNATURE, SynapseHeaders, TERMINALS_IN_BODY,
    write_lean_request_headers, write_synapse_headers,
};
use bt_http::{Envelope, SynapseMessage, TerminalInfo, status};
use bytes::Bytes;
use futures_util::future::join_all;
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use outcome::CallOutcome;
pub use stream::SynapseStream;

use bt_crypto::http_auth::session::SessionFields;
use bt_crypto::session::{OFFER_HEADER, SESSION_HEADER, VERSION_HEADER};
use names::{PeerNames, Peers};
use outcome::Failed;
use session::{Auth, Slots};

/// Which signatures a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HttpAuth {
    /// SDK v10 headers only (what SDK axons need; binds only the hashed fields).
    V10,
    /// btauth/1 only (binds the raw body; SDK v10 axons refuse it).
    BtAuth,
    /// Both: any axon accepts it, ours check btauth/1. Two signatures per request.
    #[default]
    Both,
}

/// Limits and policy of an [`HttpDendrite`].
#[derive(Clone, Debug)]
pub struct HttpDendriteConfig {
    /// Which signatures to send.
    pub auth: HttpAuth,
    /// Largest answer body read, in bytes; a larger one is refused (413). Default 16 MiB.
    pub max_response_bytes: usize,
    /// Calls in flight at once over all targets; more wait (within their deadline).
    /// Default 1024.
    pub max_in_flight: usize,
    /// Idle keep-alive connections kept per axon. Default 32.
    pub pool_max_idle_per_host: usize,
    /// An idle connection is closed after this. Default 90 s.
    pub pool_idle_timeout: Duration,
    /// Speak HTTP/2 without negotiation (our axons speak both; SDK axons only HTTP/1.1).
    /// Default `false`.
    pub http2_prior_knowledge: bool,
    /// Refuse answers that lack our axons' response signature (for networks of our neurons
    /// only). Default `false`; a present signature is always checked.
    pub require_signed_responses: bool,
    /// The `bt_header_dendrite_ip` we report. Default `127.0.0.1`.
    pub external_ip: String,
    /// Open a session with axons that advertise them (ours): after one signed handshake,
    /// requests carry a MAC instead of signatures and answers carry the session's MAC. SDK
    /// axons never advertise, so they never see a session header. Default `true`.
    pub sessions: bool,
    /// Axons (address and hotkey) whose session state is kept; beyond it the least recently
    /// called one's is dropped (it signs again, then opens a new session). Also bounds the
    /// axons whose SS58 and address text are kept encoded (beyond it they are encoded anew).
    /// Default 4,096.
    pub max_sessions: usize,
}

impl Default for HttpDendriteConfig {
    fn default() -> Self {
        Self {
            auth: HttpAuth::Both,
            max_response_bytes: 16 << 20,
            max_in_flight: 1024,
            pool_max_idle_per_host: 32,
            pool_idle_timeout: Duration::from_secs(90),
            http2_prior_knowledge: false,
            require_signed_responses: false,
            external_ip: "127.0.0.1".into(),
            sessions: true,
            max_sessions: 4096,
        }
    }
}

/// Where a synapse is served: the axon's address and hotkey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AxonTarget {
    pub addr: SocketAddr,
    pub hotkey: AccountId,
}

/// The client. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct HttpDendrite {
    inner: Arc<Inner>,
}

struct Inner {
    hotkey: Arc<Sr25519Pair>,
    ss58: String,
    uuid: String,
    config: HttpDendriteConfig,
    client: Client<HttpConnector, Full<Bytes>>,
    nonces: NonceClock,
    slots: Arc<Semaphore>,
    sessions: Slots,
    /// The axons' SS58 and address as text, encoded once per axon.
    peers: Peers,
}

impl HttpDendrite {
    pub fn new(hotkey: Arc<Sr25519Pair>, config: HttpDendriteConfig) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.enforce_http(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .pool_idle_timeout(config.pool_idle_timeout)
            .http2_only(config.http2_prior_knowledge)
            .build(connector);
        let ss58 = hotkey.ss58();
        Self {
            inner: Arc::new(Inner {
                hotkey,
                ss58,
                uuid: bt_http::new_uuid(),
                slots: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
                sessions: Slots::new(config.max_sessions),
                peers: Peers::new(config.max_sessions),
                config,
                client,
                nonces: NonceClock::new(),
            }),
        }
    }

    /// Our hotkey's SS58 address.
    pub fn hotkey_ss58(&self) -> &str {
        &self.inner.ss58
    }

    /// Call one axon. The synapse comes back with the answer's response fields merged in
    /// (request fields unchanged), and the outcome says how it went.
    pub async fn call<S: SynapseMessage>(
        &self,
        target: &AxonTarget,
        mut synapse: S,
        timeout: Duration,
    ) -> (S, CallOutcome) {
        let started = Instant::now();
        let mut outcome =
            match tokio::time::timeout(timeout, self.exchange(target, &synapse, timeout)).await {
                Err(_) => CallOutcome::failed(
                    status::TIMEOUT,
                    format!("Request timeout after {} seconds", timeout.as_secs_f64()),
                ),
                Ok(Err(failed)) => failed.into(),
                Ok(Ok((body, mut outcome))) => {
                    if outcome.status_code == status::SUCCESS {
                        match synapse.merge_response(&body) {
                            // Our axons leave the echo headers out when asked
                            // (`TERMINALS_IN_BODY`): the body's terminal says the same.
                            Ok(envelope) => {
                                if let (None, Some(axon)) =
                                    (outcome.axon.status_code, envelope.axon)
                                {
                                    outcome.adopt_body_terminal(axon);
                                }
                            }
                            Err(e) => {
                                outcome.status_code = status::UNPARSEABLE_RESPONSE;
                                outcome.status_message = format!("Failed to parse response: {e}");
                            }
                        }
                    }
                    outcome
                }
            };
        outcome.elapsed = started.elapsed();
        (synapse, outcome)
    }

    /// Call every target at once with the same synapse; answers in target order.
    pub async fn forward<S: SynapseMessage + Clone>(
        &self,
        targets: &[AxonTarget],
        synapse: &S,
        timeout: Duration,
    ) -> Vec<(S, CallOutcome)> {
        join_all(
            targets
                .iter()
                .map(|t| self.call(t, synapse.clone(), timeout)),
        )
        .await
    }

    /// Sign and send; the answer's head and its unread body (and the in-flight slot, held
    /// until the body is read).
    async fn send<S: SynapseMessage>(
        &self,
        target: &AxonTarget,
        synapse: &S,
        timeout: Duration,
        mut auth: Auth,
    ) -> Result<Sent, Failed> {
        let inner = &self.inner;
        let _slot = inner
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Failed::new(status::UNAVAILABLE, "dendrite is shutting down"))?;
        // Both signatures and the envelope name the axon by its SS58: encoded once per axon.
        let peer = inner.peers.get(target);
        let PeerNames {
            ss58: receiver,
            endpoint,
            ip,
            ours,
        } = &*peer;
        let nonce = inner.nonces.next();
        let name = synapse.name().to_string();
        let body_hash = synapse.body_hash();
        let mut dendrite = TerminalInfo {
            ip: Some(inner.config.external_ip.clone()),
            version: Some(bt_http::version_as_int()),
            nonce: Some(nonce),
            uuid: Some(inner.uuid.clone()),
            hotkey: Some(inner.ss58.clone()),
            ..TerminalInfo::default()
        };
        let fields = SessionFields {
            nonce,
            dendrite_ss58: &inner.ss58,
            axon_ss58: receiver,
            uuid: &inner.uuid,
            body_hash: &body_hash,
        };
        let mut session_header = None;
        if let Auth::Session(request) = &mut auth {
            match request.prove(&fields) {
                Some(proof) => session_header = Some(proof.encode()),
                None => {
                    request.forget();
                    auth = Auth::Signed;
                }
            }
        }
        let offer_header = match &auth {
            Auth::Offer(ticket) => {
                session::offer(ticket, &inner.hotkey, &fields, endpoint).map(|o| o.encode())
            }
            _ => None,
        };
        // Under a session no signature is made: the MAC replaces both.
        let signed = session_header.is_none();
        let scheme = inner.config.auth;
        if signed && scheme != HttpAuth::BtAuth {
            let message = v10_message(nonce, &inner.ss58, receiver, &inner.uuid, &body_hash);
            dendrite.signature = Some(v10_sign(&inner.hotkey, &message));
        }
        let envelope = Envelope {
            name: Some(name.clone()),
            timeout: Some(timeout.as_secs_f64()),
            total_size: Some(0),
            header_size: Some(0),
            dendrite: Some(dendrite),
            axon: Some(TerminalInfo {
                ip: Some(ip.clone()),
                port: Some(i64::from(target.addr.port())),
                hotkey: Some(receiver.clone()),
                ..TerminalInfo::default()
            }),
            computed_body_hash: Some(String::new()),
        };
        let body = synapse.to_body(&envelope).map_err(|e| {
            Failed::new(
                status::BAD_REQUEST,
                format!("cannot encode the synapse: {e}"),
            )
        })?;
        let path = format!("/{name}");
        let uri = format!("http://{endpoint}{path}");
        let mut req = Request::builder().method(Method::POST).uri(&uri);
        let headers = req
            .headers_mut()
            .ok_or_else(|| Failed::new(status::BAD_REQUEST, format!("invalid address {uri}")))?;
        headers.reserve(32);
        // Our axons read few of the SDK's headers; only they get sessions.
        if session_header.is_some() || ours.load(Ordering::Relaxed) {
            write_lean_request_headers(headers, &envelope, &body_hash)
        } else {
            write_synapse_headers(headers, &envelope, &synapse.input_obj_headers(), &body_hash)
        }
        .map_err(|e| Failed::new(status::BAD_REQUEST, e.to_string()))?;
        static SESSION: HeaderName = HeaderName::from_static(SESSION_HEADER);
        static OFFER: HeaderName = HeaderName::from_static(OFFER_HEADER);
        static VERSION: HeaderName = HeaderName::from_static(VERSION_HEADER);
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        static TERMINALS: HeaderName = HeaderName::from_static(TERMINALS_IN_BODY);
        headers.insert(&TERMINALS, HeaderValue::from_static("1"));
        if let Some(proof) = session_header {
            insert_value(headers, &SESSION, proof)?;
        }
        if let Some(offer) = offer_header {
            insert_value(headers, &OFFER, offer)?;
            headers.insert(
                &VERSION,
                HeaderValue::from_static(bt_crypto::session::SessionVersion::LATEST.header_value()),
            );
            // The offer signs the endpoint as the axon will read it.
            insert(headers, "host", endpoint)?;
        }
        if signed && scheme != HttpAuth::V10 {
            let payload = BtAuthPayload {
                scheme: Scheme::Sr25519,
                method: "POST",
                target: &path,
                body: &body,
                nonce,
                sender: &inner.ss58,
                receiver: Some(receiver),
            };
            let signature = BtAuthSigner::Sr25519(&inner.hotkey).sign(&payload.to_bytes());
            insert(headers, "x-bittensor-version", "1")?;
            insert(headers, "x-bittensor-hotkey", &inner.ss58)?;
            insert(headers, "x-bittensor-receiver", receiver)?;
            insert(headers, "x-bittensor-nonce", &nonce.to_string())?;
            insert(
                headers,
                "x-bittensor-signature",
                &format!("0x{}", hex_lower(&signature)),
            )?;
        }
        let req = req.body(Full::new(Bytes::from(body))).map_err(|e| {
            Failed::new(
                status::BAD_REQUEST,
                format!("cannot build the request: {e}"),
            )
        })?;
        let resp = inner.client.request(req).await.map_err(|e| {
            Failed::new(
                status::UNAVAILABLE,
                format!("Service unavailable at {}/{name}: {e}", target.addr),
            )
        })?;
        let (parts, body) = resp.into_parts();
        Ok(Sent {
            parts,
            body,
            nonce,
            slot: _slot,
            auth,
            peer,
        })
    }

    /// How the next request to `target` authenticates (`sessions`: whether this call may use
    /// one).
    fn plan(&self, target: &AxonTarget, sessions: bool) -> Auth {
        if !(sessions && self.inner.config.sessions) {
            return Auth::Signed;
        }
        self.inner.sessions.plan(target.addr, target.hotkey)
    }

    async fn exchange<S: SynapseMessage>(
        &self,
        target: &AxonTarget,
        synapse: &S,
        timeout: Duration,
    ) -> Result<(Bytes, CallOutcome), Failed> {
        let first = self.plan(target, true);
        let retry_signed = matches!(first, Auth::Session(_));
        match self.exchange_once(target, synapse, timeout, first).await {
            // An axon that forgot the session (restart, expiry, eviction) refuses it before
            // running anything: the call is sent again, signed, once.
            Err(Refused::Session(_)) if retry_signed => {
                match self
                    .exchange_once(target, synapse, timeout, Auth::Signed)
                    .await
                {
                    Ok(x) => Ok(x),
                    Err(Refused::Failed(f)) => Err(f),
                    Err(Refused::Session(outcome)) => Ok(*outcome),
                }
            }
            Ok(x) => Ok(x),
            Err(Refused::Failed(f)) => Err(f),
            Err(Refused::Session(outcome)) => Ok(*outcome),
        }
    }

    async fn exchange_once<S: SynapseMessage>(
        &self,
        target: &AxonTarget,
        synapse: &S,
        timeout: Duration,
        auth: Auth,
    ) -> Result<(Bytes, CallOutcome), Refused> {
        let inner = &self.inner;
        let Sent {
            parts,
            body,
            nonce,
            slot: _slot,
            auth,
            peer,
        } = self.send(target, synapse, timeout, auth).await?;
        if inner.config.sessions
            && matches!(auth, Auth::Signed)
            && session::advertises(&parts.headers)
        {
            inner.sessions.advertised(target.addr, target.hotkey);
        }
        let answer = Limited::new(body, inner.config.max_response_bytes)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    Failed::new(
                        status::PAYLOAD_TOO_LARGE,
                        format!(
                            "answer exceeds this dendrite's limit of {} bytes",
                            inner.config.max_response_bytes
                        ),
                    )
                } else {
                    Failed::new(status::BAD_REQUEST, format!("Payload error: {e}"))
                }
            })?
            .to_bytes();
        let code = parts.status.as_u16();
        peer.ours.store(
            code == status::SUCCESS && !parts.headers.contains_key(AXON_STATUS_CODE),
            Ordering::Relaxed,
        );
        let echoed = echoed_terminals(&parts.headers);
        let mut outcome = CallOutcome::from_answer(code, &echoed.axon, &answer);
        match auth {
            Auth::Session(request) => {
                outcome.session = true;
                // Our axon MACs every answer to a request its session authenticated, errors
                // included; a 401 without one is the session refused.
                let verifies = request.answer_verifies(code, &answer, &parts.headers);
                if !verifies && code == status::NOT_VERIFIED {
                    request.forget();
                    return Err(Refused::Session(Box::new((answer, outcome))));
                }
                if !verifies {
                    outcome.response_signed = Some(false);
                    return Err(Failed::new(
                        status::NOT_VERIFIED,
                        format!(
                            "the answer's session MAC does not verify (axon hotkey {})",
                            target.hotkey
                        ),
                    )
                    .into());
                }
                outcome.response_signed = Some(true);
                return Ok((answer, outcome));
            }
            Auth::Offer(ticket) => session::resolve(
                ticket,
                code,
                &parts.headers,
                &inner.ss58,
                &peer.ss58,
                &peer.endpoint,
            ),
            Auth::Signed => {}
        }
        match parts
            .headers
            .get(RESPONSE_SIGNATURE)
            .and_then(|v| v.to_str().ok())
        {
            Some(sig) => {
                let valid = bt_crypto::http_auth::verify_response(
                    &target.hotkey,
                    sig,
                    parts.status.as_u16(),
                    &answer,
                    nonce,
                    &inner.hotkey.account(),
                )
                .is_ok();
                outcome.response_signed = Some(valid);
                if !valid {
                    return Err(Failed::new(
                        status::NOT_VERIFIED,
                        format!(
                            "the answer's signature does not verify against axon hotkey {}",
                            target.hotkey
                        ),
                    )
                    .into());
                }
            }
            None if inner.config.require_signed_responses => {
                return Err(Failed::new(
                    status::NOT_VERIFIED,
                    "the answer is not signed by the axon's hotkey",
                )
                .into());
            }
            None => outcome.response_signed = None,
        }
        Ok((answer, outcome))
    }
}

/// A request sent: the answer's head, its unread body, and what checking it needs (the
/// in-flight slot is held until the body is read).
pub(crate) struct Sent {
    pub(crate) parts: http::response::Parts,
    pub(crate) body: Incoming,
    pub(crate) nonce: i64,
    pub(crate) slot: OwnedSemaphorePermit,
    auth: Auth,
    /// The axon's SS58 and the endpoint as the request named them.
    peer: Arc<PeerNames>,
}

/// Why one exchange ended without an answer to return.
enum Refused {
    Failed(Failed),
    /// The axon refused the session (401): the answer as it came, for when no retry follows.
    Session(Box<(Bytes, CallOutcome)>),
}

impl From<Failed> for Refused {
    fn from(f: Failed) -> Self {
        Refused::Failed(f)
    }
}

fn insert(headers: &mut http::HeaderMap, name: &str, value: &str) -> Result<(), Failed> {
    let bad = || Failed::new(status::BAD_REQUEST, format!("header {name} is not valid"));
    headers.insert(
        HeaderName::try_from(name).map_err(|_| bad())?,
        HeaderValue::try_from(value).map_err(|_| bad())?,
    );
    Ok(())
}

/// Inserts a value made for this request (no copy); `Err` names a value that cannot be one.
fn insert_value(
    headers: &mut http::HeaderMap,
    name: &'static HeaderName,
    value: String,
) -> Result<(), Failed> {
    let value = HeaderValue::try_from(value)
        .map_err(|_| Failed::new(status::BAD_REQUEST, format!("header {name} is not valid")))?;
    headers.insert(name, value);
    Ok(())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The terminal information an answer's headers echo (unparseable values are ignored: they are
/// the peer's report about itself, not something we act on).
pub(crate) fn echoed_terminals(headers: &http::HeaderMap) -> SynapseHeaders {
    SynapseHeaders::parse(headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())))
        .unwrap_or_default()
}
