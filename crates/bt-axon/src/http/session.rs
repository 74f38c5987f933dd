//! The axon's side of HTTP sessions (`bt_crypto::http_auth::session`): authenticating a
//! request by its session MAC, opening a session on a signed request that offers one, and the
//! answer's headers.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use bt_crypto::http_auth::session::{
    ADVERTISE_HEADER, ANSWER_HEADER, SessionFields, SessionHeaders, key_context,
    parse_session_headers, request_digest, sign_answer, verify_offer,
};
use bt_crypto::http_auth::{
    AuthError, V10_HOTKEY_HEADER, V10_NONCE_HEADER, parse_hotkey, parse_nonce,
};
use bt_crypto::session::{
    ACCEPT_HEADER, SessionAccept, SessionMac, SessionOffer, SessionTable, SessionVersion,
    accept_share,
};
use bt_crypto::wallet::AccountId;
use http::{HeaderMap, HeaderValue};

use super::config::HttpSessionConfig;

/// The axon's sessions and the clock their times are read from.
pub(crate) struct Sessions {
    table: Mutex<SessionTable<AccountId>>,
    epoch: Instant,
    /// Requests a session authenticated.
    authenticated: AtomicU64,
    /// Session requests refused (unknown or expired session, bad MAC, replayed counter, …).
    refused: AtomicU64,
    /// Sessions opened, and offers not taken up (bad offer, table full).
    opened: AtomicU64,
    not_opened: AtomicU64,
}

/// A request a session authenticated: what its answer's MAC needs.
pub(crate) struct SessionCall {
    pub(crate) caller: AccountId,
    pub(crate) nonce: i64,
    pub(crate) mac: SessionMac,
    pub(crate) counter: u64,
    pub(crate) digest: [u8; 32],
}

impl Sessions {
    pub(crate) fn new(config: &HttpSessionConfig) -> Option<Self> {
        config.enabled.then(|| Self {
            table: Mutex::new(SessionTable::new(config.table_config())),
            epoch: Instant::now(),
            authenticated: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            opened: AtomicU64::new(0),
            not_opened: AtomicU64::new(0),
        })
    }

    fn table(&self) -> MutexGuard<'_, SessionTable<AccountId>> {
        // The table is consistent after every call: a panic elsewhere cannot leave it halfway.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Sessions open now.
    pub(crate) fn len(&self) -> usize {
        self.table().len()
    }

    /// Prometheus text of the session gauges and counters.
    pub(crate) fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP bt_http_axon_sessions Sessions with our dendrites open now.\n\
             # TYPE bt_http_axon_sessions gauge\nbt_http_axon_sessions {}",
            self.len()
        );
        for (name, help, v) in [
            (
                "bt_http_axon_session_requests_total",
                "Requests authenticated by a session.",
                &self.authenticated,
            ),
            (
                "bt_http_axon_session_refusals_total",
                "Session requests refused (unknown session, bad MAC, replayed counter).",
                &self.refused,
            ),
            (
                "bt_http_axon_sessions_opened_total",
                "Sessions opened by signed requests.",
                &self.opened,
            ),
            (
                "bt_http_axon_session_offers_declined_total",
                "Session offers not taken up (bad offer, table full).",
                &self.not_opened,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
            );
        }
        out
    }

    /// Authenticate a request by its `bt-session` proof: the MAC over the v10 fields as sent,
    /// the counter inside the session's window, and the source address that opened it. The
    /// caller checks freshness of the returned nonce.
    pub(crate) fn authenticate(
        &self,
        proof: &bt_crypto::session::SessionProof,
        headers: &HeaderMap,
        axon_ss58: &str,
        peer: SocketAddr,
    ) -> Result<SessionCall, AuthError> {
        let refused = |e| {
            self.refused.fetch_add(1, Relaxed);
            e
        };
        let fields = fields(headers, axon_ss58).map_err(refused)?;
        let digest = request_digest(&fields);
        let auth = self
            .table()
            .authenticate_from(
                proof,
                fields.dendrite_ss58,
                &digest,
                self.now(),
                Some(peer.ip()),
            )
            .map_err(|e| {
                refused(AuthError::BadHeader {
                    header: bt_crypto::session::SESSION_HEADER,
                    reason: e.to_string(),
                })
            })?;
        self.authenticated.fetch_add(1, Relaxed);
        Ok(SessionCall {
            caller: auth.caller,
            nonce: fields.nonce,
            mac: auth.mac,
            counter: proof.counter,
            digest,
        })
    }

    /// Open a session for a request that `caller` authenticated with a signature and that
    /// passed the hooks. `None` (the request is served without a session) when the offer's
    /// signature does not verify, the hotkey header names someone else, the request names no
    /// endpoint, or the table refuses it.
    pub(crate) fn open(
        &self,
        offer: &SessionOffer,
        version: SessionVersion,
        caller: &AccountId,
        request: &http::request::Parts,
        axon_ss58: &str,
        peer: SocketAddr,
    ) -> Option<SessionAccept> {
        let refused = |why: &dyn std::fmt::Display| {
            self.not_opened.fetch_add(1, Relaxed);
            tracing::debug!("http session from {peer} not opened: {why}");
            None
        };
        let fields = match fields(&request.headers, axon_ss58) {
            Ok(f) => f,
            Err(e) => return refused(&e),
        };
        match parse_hotkey(V10_HOTKEY_HEADER, fields.dendrite_ss58) {
            Ok(named) if named == *caller => {}
            _ => return refused(&"the hotkey header is not the authenticated caller"),
        }
        let Some(endpoint) = endpoint(&request.headers, &request.uri) else {
            return refused(&"no Host header");
        };
        if let Err(e) = verify_offer(caller, offer, &fields, endpoint) {
            return refused(&e);
        }
        let context = key_context(axon_ss58, endpoint);
        let (accept, key) =
            match accept_share(&offer.share, version, fields.dendrite_ss58, &context) {
                Ok(x) => x,
                Err(e) => return refused(&e),
            };
        let inserted = self.table().insert(
            accept.session_id,
            *caller,
            fields.dendrite_ss58,
            key,
            self.now(),
            Some(peer.ip()),
        );
        match inserted {
            Ok(()) => {
                self.opened.fetch_add(1, Relaxed);
                Some(accept)
            }
            Err(e) => refused(&e),
        }
    }
}

/// The v10 fields of a request as sent (the signature header is not among them).
fn fields<'a>(headers: &'a HeaderMap, axon_ss58: &'a str) -> Result<SessionFields<'a>, AuthError> {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let nonce = parse_nonce(
        V10_NONCE_HEADER,
        header(V10_NONCE_HEADER).ok_or(AuthError::MissingHeader {
            header: V10_NONCE_HEADER,
        })?,
    )?;
    Ok(SessionFields {
        nonce,
        dendrite_ss58: header(V10_HOTKEY_HEADER).ok_or(AuthError::MissingHeader {
            header: V10_HOTKEY_HEADER,
        })?,
        axon_ss58,
        uuid: header("bt_header_dendrite_uuid").unwrap_or(""),
        body_hash: header("computed_body_hash").unwrap_or(""),
    })
}

/// The endpoint the caller dialled: the `Host` header (HTTP/1.1) or the authority (HTTP/2).
fn endpoint<'a>(headers: &'a HeaderMap, uri: &'a http::Uri) -> Option<&'a str> {
    uri.authority()
        .map(http::uri::Authority::as_str)
        .or_else(|| {
            headers
                .get(http::header::HOST)
                .and_then(|v| v.to_str().ok())
        })
        .filter(|e| !e.is_empty())
}

/// The session headers of a request, or `None` with sessions off (then an offer is ignored;
/// a proof is refused by the caller).
pub(crate) fn parse(headers: &HeaderMap) -> Result<SessionHeaders, AuthError> {
    parse_session_headers(
        headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())),
        SessionVersion::LATEST,
    )
}

/// Adds the session headers to an answer: the advertisement, an accept, or the answer's MAC.
pub(crate) fn answer_headers(
    out: &mut HeaderMap,
    accept: Option<&SessionAccept>,
    call: Option<&SessionCall>,
    code: u16,
    body: Option<&[u8]>,
) {
    static ADVERTISE: http::HeaderName = http::HeaderName::from_static(ADVERTISE_HEADER);
    static ACCEPT: http::HeaderName = http::HeaderName::from_static(ACCEPT_HEADER);
    static ANSWER: http::HeaderName = http::HeaderName::from_static(ANSWER_HEADER);
    out.insert(
        &ADVERTISE,
        HeaderValue::from_static(SessionVersion::LATEST.header_value()),
    );
    if let Some(accept) = accept
        && let Ok(v) = HeaderValue::try_from(accept.encode())
    {
        out.insert(&ACCEPT, v);
    }
    if let (Some(call), Some(body)) = (call, body)
        && let Ok(v) = HeaderValue::try_from(sign_answer(
            &call.mac,
            call.counter,
            code,
            body,
            &call.digest,
        ))
    {
        out.insert(&ANSWER, v);
    }
}
