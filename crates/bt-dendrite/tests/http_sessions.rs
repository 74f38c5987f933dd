//! HTTP sessions between our dendrite and our axon on 127.0.0.1: the handshake, the MAC'd
//! requests and answers, and what the axon refuses (a replayed counter, a counter below the
//! window, an altered field or MAC, a session presented to another axon), an offer that arrives
//! under another endpoint than the one it was signed for (served, no session), an SDK-style
//! signed request beside the sessions, and the dendrite recovering when the axon restarts or
//! drops its session. Hand-made requests use the same primitives as the dendrite, so each
//! refusal is of one thing changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bt_axon::http::{AuthScheme, HttpAxon, HttpAxonConfig, HttpAxonHandle, HttpSessionConfig};
use bt_crypto::http_auth::session::{
    ADVERTISE_HEADER, ANSWER_HEADER, SessionFields, key_context, request_digest, sign_offer,
    verify_answer,
};
use bt_crypto::http_auth::{v10_message, v10_sign};
use bt_crypto::session::{
    ACCEPT_HEADER, OFFER_HEADER, REPLAY_WINDOW, SESSION_HEADER, SessionAccept, SessionInitiator,
    SessionMac, SessionVersion, VERSION_HEADER,
};
use bt_crypto::unix_nanos;
use bt_crypto::wallet::{AccountId, Sr25519Pair};
use bt_dendrite::http::{AxonTarget, HttpAuth, HttpDendrite, HttpDendriteConfig};
use bt_http::builtin::Dummy;
use bt_http::headers::synapse_headers;
use bt_http::{Envelope, SynapseMessage, TerminalInfo};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const TIMEOUT: Duration = Duration::from_secs(10);
const UUID: &str = "0b7c2d9e-session-test";

fn dummy(input: i64) -> Dummy {
    Dummy {
        dummy_input: input,
        dummy_output: None,
    }
}

/// An axon serving `Dummy` (2× the input) that records how each call authenticated.
async fn start_axon(
    hotkey: [u8; 32],
    sessions: HttpSessionConfig,
) -> (HttpAxonHandle, Arc<Mutex<Vec<AuthScheme>>>) {
    start_axon_at(hotkey, sessions, "127.0.0.1:0".parse().unwrap()).await
}

async fn start_axon_at(
    hotkey: [u8; 32],
    sessions: HttpSessionConfig,
    addr: SocketAddr,
) -> (HttpAxonHandle, Arc<Mutex<Vec<AuthScheme>>>) {
    let schemes = Arc::new(Mutex::new(Vec::new()));
    let seen = schemes.clone();
    let config = HttpAxonConfig {
        sessions,
        ..HttpAxonConfig::default()
    };
    let axon = HttpAxon::builder(Arc::new(Sr25519Pair::from_seed(hotkey)), config)
        .attach(move |mut s: Dummy, call| {
            seen.lock().unwrap().push(call.scheme);
            async move {
                s.dummy_output = Some(s.dummy_input * 2);
                Ok(s)
            }
        })
        .start(addr)
        .await
        .unwrap();
    (axon, schemes)
}

fn target(axon: &HttpAxonHandle) -> AxonTarget {
    AxonTarget {
        addr: axon.local_addr(),
        hotkey: AccountId::from_ss58(&axon.hotkey_ss58()).unwrap(),
    }
}

#[tokio::test]
async fn our_dendrite_opens_a_session_and_then_sends_macs_instead_of_signatures() {
    let (axon, schemes) = start_axon([7; 32], HttpSessionConfig::default()).await;
    let dendrite = HttpDendrite::new(
        Arc::new(Sr25519Pair::from_seed([1; 32])),
        HttpDendriteConfig {
            auth: HttpAuth::V10,
            ..HttpDendriteConfig::default()
        },
    );
    let t = target(&axon);
    // 1: signed, learns the axon speaks sessions; 2: signed, offers; 3..: the session.
    let mut sessions = Vec::new();
    for i in 0..6 {
        let (answer, outcome) = dendrite.call(&t, dummy(i), TIMEOUT).await;
        assert_eq!(outcome.status_code, 200, "{outcome:?}");
        assert_eq!(answer.dummy_output, Some(2 * i));
        sessions.push(outcome.session);
        if outcome.session {
            assert_eq!(outcome.response_signed, Some(true));
        }
    }
    assert_eq!(sessions, [false, false, true, true, true, true]);
    assert_eq!(axon.sessions_open(), 1);
    let schemes = schemes.lock().unwrap().clone();
    assert_eq!(&schemes[..2], [AuthScheme::V10, AuthScheme::V10]);
    assert!(schemes[2..].iter().all(|s| *s == AuthScheme::Session));

    // Concurrent calls under one session arrive in any order: all pass.
    let calls = (0..64).map(|i| dendrite.call(&t, dummy(i), TIMEOUT));
    for (i, (answer, outcome)) in futures_util::future::join_all(calls)
        .await
        .into_iter()
        .enumerate()
    {
        assert!(outcome.session && outcome.status_code == 200, "{outcome:?}");
        assert_eq!(answer.dummy_output, Some(2 * i as i64));
    }
}

#[tokio::test]
async fn with_sessions_off_on_either_side_calls_stay_signed() {
    let off = HttpSessionConfig {
        enabled: false,
        ..HttpSessionConfig::default()
    };
    let (axon, _) = start_axon([7; 32], off).await;
    let dendrite = HttpDendrite::new(
        Arc::new(Sr25519Pair::from_seed([1; 32])),
        HttpDendriteConfig::default(),
    );
    for i in 0..4 {
        let (_, outcome) = dendrite.call(&target(&axon), dummy(i), TIMEOUT).await;
        assert!(
            outcome.status_code == 200 && !outcome.session,
            "{outcome:?}"
        );
    }
    let (axon, _) = start_axon([7; 32], HttpSessionConfig::default()).await;
    let dendrite = HttpDendrite::new(
        Arc::new(Sr25519Pair::from_seed([1; 32])),
        HttpDendriteConfig {
            sessions: false,
            ..HttpDendriteConfig::default()
        },
    );
    for i in 0..4 {
        let (_, outcome) = dendrite.call(&target(&axon), dummy(i), TIMEOUT).await;
        assert!(
            outcome.status_code == 200 && !outcome.session,
            "{outcome:?}"
        );
    }
    assert_eq!(axon.sessions_open(), 0);
}

/// A hand-made client: v10 requests that offer a session, then requests under it.
struct Raw {
    key: Sr25519Pair,
    ss58: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Bytes,
}

/// How a hand-made request authenticates.
enum RawAuth<'a> {
    /// v10-signed and nothing else, as an SDK dendrite sends it.
    Signed,
    Offer(&'a SessionInitiator),
    Mac(&'a SessionMac, u64),
}

impl Raw {
    fn new(seed: u8) -> Self {
        let key = Sr25519Pair::from_seed([seed; 32]);
        Self {
            ss58: key.ss58(),
            key,
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
        }
    }

    /// A `Dummy` request to `addr` / `axon_ss58` with `nonce`; `tamper` edits the headers last.
    async fn send(
        &self,
        addr: SocketAddr,
        axon_ss58: &str,
        nonce: i64,
        auth: RawAuth<'_>,
        tamper: impl FnOnce(&mut http::HeaderMap),
    ) -> Answer {
        let synapse = dummy(3);
        let body_hash = synapse.body_hash();
        let mut dendrite = TerminalInfo {
            ip: Some("127.0.0.1".into()),
            version: Some(bt_http::version_as_int()),
            nonce: Some(nonce),
            uuid: Some(UUID.into()),
            hotkey: Some(self.ss58.clone()),
            ..TerminalInfo::default()
        };
        let fields = SessionFields {
            nonce,
            dendrite_ss58: &self.ss58,
            axon_ss58,
            uuid: UUID,
            body_hash: &body_hash,
        };
        let endpoint = addr.to_string();
        let mut extra = Vec::new();
        match auth {
            RawAuth::Signed => {
                let message = v10_message(nonce, &self.ss58, axon_ss58, UUID, &body_hash);
                dendrite.signature = Some(v10_sign(&self.key, &message));
            }
            RawAuth::Offer(init) => {
                let message = v10_message(nonce, &self.ss58, axon_ss58, UUID, &body_hash);
                dendrite.signature = Some(v10_sign(&self.key, &message));
                let offer = sign_offer(&self.key, init.share(), &fields, &endpoint);
                extra.push((OFFER_HEADER, offer.encode()));
                extra.push((VERSION_HEADER, "2".to_string()));
            }
            RawAuth::Mac(mac, counter) => {
                let proof = mac.prove(counter, &request_digest(&fields));
                extra.push((SESSION_HEADER, proof.encode()));
            }
        }
        let envelope = Envelope {
            name: Some("Dummy".into()),
            timeout: Some(10.0),
            dendrite: Some(dendrite),
            axon: Some(TerminalInfo {
                hotkey: Some(axon_ss58.to_string()),
                ..TerminalInfo::default()
            }),
            computed_body_hash: Some(String::new()),
            ..Envelope::default()
        };
        let body = synapse.to_body(&envelope).unwrap();
        let mut req = http::Request::builder()
            .method("POST")
            .uri(format!("http://{endpoint}/Dummy"));
        let headers = req.headers_mut().unwrap();
        for (k, v) in synapse_headers(&envelope, &synapse.input_obj_headers(), &body_hash) {
            headers.insert(
                http::HeaderName::try_from(k).unwrap(),
                http::HeaderValue::try_from(v).unwrap(),
            );
        }
        for (k, v) in extra {
            headers.insert(k, v.parse().unwrap());
        }
        headers.insert("content-type", "application/json".parse().unwrap());
        tamper(headers);
        let resp = self
            .client
            .request(req.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// A handshake with the axon at `addr`: the session's MAC, as the dendrite derives it.
    async fn handshake(&self, addr: SocketAddr, axon_ss58: &str) -> SessionMac {
        let init = SessionInitiator::generate();
        let answer = self
            .send(addr, axon_ss58, unix_nanos(), RawAuth::Offer(&init), |_| {})
            .await;
        assert_eq!(answer.status, 200);
        assert!(answer.headers.contains_key(ADVERTISE_HEADER));
        let accept = SessionAccept::parse(answer.headers[ACCEPT_HEADER].as_bytes()).unwrap();
        assert_eq!(accept.version, SessionVersion::V2);
        let key = init
            .complete(
                &accept,
                &self.ss58,
                &key_context(axon_ss58, &addr.to_string()),
            )
            .unwrap();
        SessionMac::new(&key, &accept.session_id)
    }

    async fn mac(&self, addr: SocketAddr, axon: &str, mac: &SessionMac, counter: u64) -> Answer {
        self.send(addr, axon, unix_nanos(), RawAuth::Mac(mac, counter), |_| {})
            .await
    }
}

fn message(a: &Answer) -> String {
    String::from_utf8_lossy(&a.body).into_owned()
}

#[tokio::test]
async fn replayed_and_too_old_counters_and_altered_fields_are_refused() {
    let (axon, _) = start_axon([7; 32], HttpSessionConfig::default()).await;
    let (addr, ss58) = (axon.local_addr(), axon.hotkey_ss58());
    let raw = Raw::new(1);
    let mac = raw.handshake(addr, &ss58).await;

    // A MAC'd request passes once, and its answer carries the session's MAC over it.
    let nonce = unix_nanos();
    let first = raw
        .send(addr, &ss58, nonce, RawAuth::Mac(&mac, 5), |_| {})
        .await;
    assert_eq!(first.status, 200, "{}", message(&first));
    let body_hash = dummy(3).body_hash();
    let fields = SessionFields {
        nonce,
        dendrite_ss58: &raw.ss58,
        axon_ss58: &ss58,
        uuid: UUID,
        body_hash: &body_hash,
    };
    assert!(verify_answer(
        &mac,
        5,
        200,
        &first.body,
        &request_digest(&fields),
        first.headers[ANSWER_HEADER].as_bytes()
    ));
    // The same request again, byte for byte: a replay.
    let again = raw
        .send(addr, &ss58, nonce, RawAuth::Mac(&mac, 5), |_| {})
        .await;
    assert_eq!(again.status, 401);
    assert!(message(&again).contains("replay"), "{}", message(&again));

    // Reordered within the window: passes; below it: refused even though never used.
    let high = 5_000;
    assert_eq!(raw.mac(addr, &ss58, &mac, high).await.status, 200);
    let inside = raw.mac(addr, &ss58, &mac, high - REPLAY_WINDOW + 1).await;
    assert_eq!(inside.status, 200, "{}", message(&inside));
    let below = raw.mac(addr, &ss58, &mac, high - REPLAY_WINDOW).await;
    assert_eq!(below.status, 401);
    assert!(
        message(&below).contains("too old: true"),
        "{}",
        message(&below)
    );

    // Each field the MAC covers, altered after the MAC was made: refused.
    let tampered: [(&str, &str); 4] = [
        ("bt_header_dendrite_nonce", "1"),
        ("bt_header_dendrite_uuid", "another-uuid"),
        ("computed_body_hash", "abc"),
        (
            "bt_header_dendrite_hotkey",
            "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
        ),
    ];
    for (i, (name, value)) in tampered.into_iter().enumerate() {
        let counter = high + 1 + i as u64;
        let a = raw
            .send(
                addr,
                &ss58,
                unix_nanos(),
                RawAuth::Mac(&mac, counter),
                |h| {
                    h.insert(name, value.parse().unwrap());
                },
            )
            .await;
        assert_eq!(a.status, 401, "{name}: {}", message(&a));
        // The refusal did not burn the counter.
        assert_eq!(raw.mac(addr, &ss58, &mac, counter).await.status, 200);
    }
    // A stale nonce under a fresh counter: refused by freshness.
    let stale = raw
        .send(
            addr,
            &ss58,
            unix_nanos() - 60_000_000_000,
            RawAuth::Mac(&mac, high + 100),
            |_| {},
        )
        .await;
    assert_eq!(stale.status, 401);
    assert!(message(&stale).contains("stale"), "{}", message(&stale));
}

#[tokio::test]
async fn a_session_from_one_axon_is_refused_at_another() {
    // Same hotkey, another process-level axon (a miner running two), and another hotkey.
    let (a, _) = start_axon([7; 32], HttpSessionConfig::default()).await;
    let (b, _) = start_axon([7; 32], HttpSessionConfig::default()).await;
    let (c, _) = start_axon([8; 32], HttpSessionConfig::default()).await;
    let raw = Raw::new(1);
    let mac = raw.handshake(a.local_addr(), &a.hotkey_ss58()).await;
    assert_eq!(
        raw.mac(a.local_addr(), &a.hotkey_ss58(), &mac, 1)
            .await
            .status,
        200
    );
    for other in [&b, &c] {
        let refused = raw
            .mac(other.local_addr(), &other.hotkey_ss58(), &mac, 2)
            .await;
        assert_eq!(refused.status, 401);
        assert!(
            message(&refused).contains("unknown or expired session"),
            "{}",
            message(&refused)
        );
    }
    // Sent to A but naming C's hotkey as the axon: the MAC is over another message.
    let wrong = raw.mac(a.local_addr(), &c.hotkey_ss58(), &mac, 3).await;
    assert_eq!(wrong.status, 401);
    // Another hotkey presenting A's session: refused.
    let thief = Raw::new(9);
    let stolen = thief.mac(a.local_addr(), &a.hotkey_ss58(), &mac, 4).await;
    assert_eq!(stolen.status, 401);
    assert_eq!(
        raw.mac(a.local_addr(), &a.hotkey_ss58(), &mac, 5)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn a_session_the_axon_dropped_is_replaced_and_the_call_still_served() {
    let one = HttpSessionConfig {
        max_sessions_per_hotkey: 1,
        ..HttpSessionConfig::default()
    };
    let (axon, _) = start_axon([7; 32], one).await;
    let t = target(&axon);
    let dendrite = HttpDendrite::new(
        Arc::new(Sr25519Pair::from_seed([1; 32])),
        HttpDendriteConfig::default(),
    );
    for i in 0..3 {
        dendrite.call(&t, dummy(i), TIMEOUT).await;
    }
    let (_, outcome) = dendrite.call(&t, dummy(1), TIMEOUT).await;
    assert!(outcome.session);
    // The same hotkey opens another session by hand: the dendrite's is dropped (one per hotkey).
    let raw = Raw::new(1);
    let _mac = raw.handshake(t.addr, &axon.hotkey_ss58()).await;
    // Refused as a session, served signed, then a new session.
    let (answer, outcome) = dendrite.call(&t, dummy(21), TIMEOUT).await;
    assert_eq!(
        (outcome.status_code, answer.dummy_output, outcome.session),
        (200, Some(42), false)
    );
    let mut later = Vec::new();
    for i in 0..2 {
        later.push(dendrite.call(&t, dummy(i), TIMEOUT).await.1.session);
    }
    assert_eq!(later, [false, true], "offer, then the new session");
}

/// Calls until the dendrite's calls to `t` go under a session (the first learns the axon
/// speaks sessions, the second offers one).
async fn open_session(dendrite: &HttpDendrite, t: &AxonTarget) {
    let mut sessions = Vec::new();
    for i in 0..3 {
        let (answer, outcome) = dendrite.call(t, dummy(i), TIMEOUT).await;
        assert_eq!(answer.dummy_output, Some(2 * i), "{outcome:?}");
        sessions.push(outcome.session);
    }
    assert_eq!(sessions, [false, false, true]);
}

fn session_dendrite() -> HttpDendrite {
    HttpDendrite::new(
        Arc::new(Sr25519Pair::from_seed([1; 32])),
        HttpDendriteConfig {
            auth: HttpAuth::V10,
            ..HttpDendriteConfig::default()
        },
    )
}

#[tokio::test]
async fn an_sdk_style_request_is_served_beside_our_sessions() {
    let (axon, schemes) = start_axon([7; 32], HttpSessionConfig::default()).await;
    let t = target(&axon);
    let dendrite = session_dendrite();
    open_session(&dendrite, &t).await;
    // What an SDK 10.5 dendrite sends: a v10 signature, no session header at all. Another
    // hotkey, and the same one as the dendrite's session: both served as plain signed calls.
    for seed in [2, 1] {
        let sdk = Raw::new(seed);
        let answer = sdk
            .send(
                t.addr,
                &axon.hotkey_ss58(),
                unix_nanos(),
                RawAuth::Signed,
                |_| {},
            )
            .await;
        assert_eq!(answer.status, 200, "{}", message(&answer));
        let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(json["dummy_output"], 6);
        assert!(!answer.headers.contains_key(ACCEPT_HEADER));
        assert!(!answer.headers.contains_key(ANSWER_HEADER));
        assert_eq!(schemes.lock().unwrap().last(), Some(&AuthScheme::V10));
    }
    // The session is untouched by them.
    let (answer, outcome) = dendrite.call(&t, dummy(9), TIMEOUT).await;
    assert!(
        outcome.session && answer.dummy_output == Some(18),
        "{outcome:?}"
    );
    assert_eq!(axon.sessions_open(), 1);
}

#[tokio::test]
async fn a_tampered_mac_is_refused_and_an_offer_for_another_endpoint_opens_nothing() {
    let (axon, _) = start_axon([7; 32], HttpSessionConfig::default()).await;
    let (addr, ss58) = (axon.local_addr(), axon.hotkey_ss58());
    let raw = Raw::new(1);
    let mac = raw.handshake(addr, &ss58).await;
    assert_eq!(axon.sessions_open(), 1);

    // The MAC itself altered (its last hex digit): 401, and the counter is not burned.
    let tampered = raw
        .send(addr, &ss58, unix_nanos(), RawAuth::Mac(&mac, 1), |h| {
            let mut v = h[SESSION_HEADER].to_str().unwrap().to_string();
            let last = if v.ends_with('0') { "1" } else { "0" };
            v.replace_range(v.len() - 1.., last);
            h.insert(SESSION_HEADER, v.parse().unwrap());
        })
        .await;
    assert_eq!(tampered.status, 401);
    assert!(
        message(&tampered).contains("MAC does not verify"),
        "{}",
        message(&tampered)
    );
    assert!(!tampered.headers.contains_key(ANSWER_HEADER));
    assert_eq!(raw.mac(addr, &ss58, &mac, 1).await.status, 200);

    // An offer signed for the endpoint the caller meant (127.0.0.1:port) that reaches the
    // axon under another (`Host: localhost:port`, as a relay that rewrites it would send it):
    // the signed call is served, no session is opened.
    let other = Raw::new(2);
    let init = SessionInitiator::generate();
    let relayed = other
        .send(addr, &ss58, unix_nanos(), RawAuth::Offer(&init), |h| {
            let host = format!("localhost:{}", addr.port());
            h.insert(http::header::HOST, host.parse().unwrap());
        })
        .await;
    assert_eq!(relayed.status, 200, "{}", message(&relayed));
    assert!(!relayed.headers.contains_key(ACCEPT_HEADER));
    assert_eq!(axon.sessions_open(), 1);
    // The same offer under the endpoint it was signed for opens one.
    let direct = other
        .send(addr, &ss58, unix_nanos(), RawAuth::Offer(&init), |_| {})
        .await;
    assert!(direct.headers.contains_key(ACCEPT_HEADER));
    assert_eq!(axon.sessions_open(), 2);
}

#[tokio::test]
async fn after_the_axon_restarts_the_dendrite_signs_once_then_opens_a_new_session() {
    let (first, _) = start_axon([7; 32], HttpSessionConfig::default()).await;
    let t = target(&first);
    let dendrite = session_dendrite();
    open_session(&dendrite, &t).await;
    first.shutdown().await;

    // The same hotkey on the same address, with an empty session table.
    let (second, schemes) = start_axon_at([7; 32], HttpSessionConfig::default(), t.addr).await;
    let mut sessions = Vec::new();
    for i in 0..3 {
        let (answer, outcome) = dendrite.call(&t, dummy(i), TIMEOUT).await;
        assert_eq!(outcome.status_code, 200, "{outcome:?}");
        assert_eq!(answer.dummy_output, Some(2 * i));
        sessions.push(outcome.session);
    }
    // Refused as a session and sent again signed; then an offer; then the new session.
    assert_eq!(sessions, [false, false, true]);
    assert_eq!(
        *schemes.lock().unwrap(),
        [AuthScheme::V10, AuthScheme::V10, AuthScheme::Session]
    );
    assert_eq!(second.sessions_open(), 1);
}

#[tokio::test]
async fn an_axon_that_requires_btauth_opens_no_session() {
    let config = HttpAxonConfig {
        accept_v10: false,
        ..HttpAxonConfig::default()
    };
    let axon = HttpAxon::builder(Arc::new(Sr25519Pair::from_seed([7; 32])), config)
        .attach(|mut s: Dummy, _| async move {
            s.dummy_output = Some(s.dummy_input * 2);
            Ok(s)
        })
        .start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let dendrite = HttpDendrite::new(
        Arc::new(Sr25519Pair::from_seed([1; 32])),
        HttpDendriteConfig {
            auth: HttpAuth::BtAuth,
            ..HttpDendriteConfig::default()
        },
    );
    for i in 0..4 {
        let (answer, outcome) = dendrite.call(&target(&axon), dummy(i), TIMEOUT).await;
        assert!(
            outcome.status_code == 200 && !outcome.session,
            "{outcome:?}"
        );
        assert_eq!(answer.dummy_output, Some(2 * i));
    }
    assert_eq!(axon.sessions_open(), 0);
}
