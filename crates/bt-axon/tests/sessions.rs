//! Sessions at the axon (docs/protocol.md, "Sessions"): a signed request with an offer opens a
//! session; requests under it are authenticated by MAC and counter — forged MACs, replayed
//! counters, unknown sessions and other callers' keys are UNAUTHENTICATED, reordering within
//! the window is fine, the table stays bounded, and the policy still sees (and can refuse) the
//! caller. Version 1 (no `bt-session-version`, as the first session-aware callers send) and
//! version 2 (BLAKE3 payload hash) are both served, each only under its own digest.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bt_axon::{AxonConfig, Decision, EchoSynapse, Policy, Priority, PublicKey};
use bt_crypto::session::{
    ACCEPT_HEADER, LATE_HEADER, OFFER_HEADER, SESSION_HEADER, SessionAccept, SessionHint,
    SessionId, SessionInitiator, SessionKey, SessionProof, SessionVersion, VERSION_HEADER,
    session_mac,
};
use bt_crypto::{NeuronKey, PayloadHash, RpcMethod, message_digest, message_digest_with};
use bt_wire::TensorMessage;
use bt_wire::bittensor_client::BittensorClient;
use common::*;
use tonic::Code;
use tonic::transport::Channel;

struct Session {
    id: SessionId,
    key: SessionKey,
}

/// A signed request with an offer, as a version-1 caller sends it (no `bt-session-version`);
/// returns the session when the axon accepted.
async fn handshake(
    c: &mut BittensorClient<Channel>,
    me: &NeuronKey,
    synapse: &str,
) -> Result<Option<Session>, tonic::Status> {
    handshake_asking(c, me, synapse, None).await
}

/// [`handshake`] with `bt-session-version: ask` (any value: the axon's answer is checked
/// against the highest version we speak).
async fn handshake_asking(
    c: &mut BittensorClient<Channel>,
    me: &NeuronKey,
    synapse: &str,
    ask: Option<&str>,
) -> Result<Option<Session>, tonic::Status> {
    let msg = signed(
        me,
        message(synapse, vec![f32_tensor(&[1.0])]),
        RpcMethod::Forward,
    );
    let init = SessionInitiator::generate().with_max_version(if ask.is_some() {
        SessionVersion::LATEST
    } else {
        SessionVersion::V1
    });
    let offer = init.offer(me, &message_digest(&msg, RpcMethod::Forward));
    let mut req = request(msg, Duration::from_secs(5));
    req.metadata_mut()
        .insert(OFFER_HEADER, offer.encode().parse().unwrap());
    if let Some(v) = ask {
        req.metadata_mut()
            .insert(VERSION_HEADER, v.parse().unwrap());
    }
    let resp = c.forward(req).await?;
    let Some(v) = resp.metadata().get(ACCEPT_HEADER) else {
        return Ok(None);
    };
    let accept = SessionAccept::parse(v.as_encoded_bytes()).unwrap();
    let key = init.complete(&accept, &me.public_hex(), synapse).unwrap();
    Ok(Some(Session {
        id: accept.session_id,
        key,
    }))
}

/// A request under `s` with `counter`, MAC'd over `value` (the MAC may be tampered with by
/// `forge`), its payload hashed as the session's version says.
fn session_request(
    s: &Session,
    me: &NeuronKey,
    synapse: &str,
    counter: u64,
    value: f32,
    forge: bool,
) -> tonic::Request<TensorMessage> {
    session_request_hashed(s, me, synapse, counter, &[value], forge, None)
}

/// [`session_request`] of `values`, its payload hashed by `hash` instead of the session's
/// choice.
fn session_request_hashed(
    s: &Session,
    me: &NeuronKey,
    synapse: &str,
    counter: u64,
    values: &[f32],
    forge: bool,
    hash: Option<PayloadHash>,
) -> tonic::Request<TensorMessage> {
    let mut msg = message(synapse, vec![f32_tensor(values)]);
    msg.neuron_key = me.public_hex();
    let version = s.key.version();
    let digest = message_digest_with(
        &msg,
        RpcMethod::Forward,
        hash.unwrap_or(version.payload_hash(&msg.tensors)),
    );
    let mut mac = session_mac(&s.key, &s.id, counter, &digest);
    if forge {
        mac[0] ^= 1;
    }
    let proof = SessionProof {
        version,
        session_id: s.id,
        counter,
        mac,
    };
    let mut req = request(msg, Duration::from_secs(5));
    req.metadata_mut()
        .insert(SESSION_HEADER, proof.encode().parse().unwrap());
    req
}

/// An axon serving the echo synapse under `key`.
async fn echo_axon(config: AxonConfig, key: &str) -> bt_axon::AxonHandle {
    start(config, vec![(key.to_owned(), Arc::new(EchoSynapse))]).await
}

/// A default echo axon under `key`, a client, caller 1, and a version-2 session between them.
struct V2Session {
    axon: bt_axon::AxonHandle,
    client: BittensorClient<Channel>,
    me: NeuronKey,
    session: Session,
}

async fn v2_session(key: &str) -> V2Session {
    let axon = echo_axon(AxonConfig::default(), key).await;
    let mut client = client(axon.local_addr()).await;
    let me = caller(1);
    let session = handshake_asking(&mut client, &me, key, Some("2"))
        .await
        .unwrap()
        .unwrap();
    V2Session {
        axon,
        client,
        me,
        session,
    }
}

/// Rewrites the version field of `req`'s `bt-session` header to `digit`, leaving the rest.
fn claim_session_version(req: &mut tonic::Request<TensorMessage>, digit: char) {
    let header = req
        .metadata()
        .get(SESSION_HEADER)
        .unwrap()
        .to_str()
        .unwrap();
    let claimed = format!("{digit}{}", &header[1..]);
    req.metadata_mut()
        .insert(SESSION_HEADER, claimed.parse().unwrap());
}

async fn call(
    c: &mut BittensorClient<Channel>,
    req: tonic::Request<TensorMessage>,
) -> Result<(), Code> {
    c.forward(req).await.map(|_| ()).map_err(|s| s.code())
}

#[tokio::test]
async fn one_signature_then_macs_and_every_forgery_is_refused() {
    let key = synapse_key(1);
    let axon = echo_axon(AxonConfig::default(), &key).await;
    let mut c = client(axon.local_addr()).await;
    let me = caller(1);
    let s = handshake(&mut c, &me, &key)
        .await
        .unwrap()
        .expect("accepted");

    // Used: ten requests, no signature among them, and the answer is the echo.
    for counter in 1..=10 {
        let resp = c
            .forward(session_request(
                &s,
                &me,
                &key,
                counter,
                counter as f32,
                false,
            ))
            .await
            .unwrap()
            .into_inner();
        let t = bt_tensor::decode(&resp.tensors[0], &bt_tensor::Limits::DEFAULT).unwrap();
        assert_eq!(t.to_f32_vec().unwrap(), vec![counter as f32]);
    }
    let m = axon.metrics();
    assert_eq!(m.signatures_verified, 1, "{m:?}");
    assert_eq!(m.sessions_opened, 1);
    assert_eq!(m.session_requests, 10);
    assert_eq!(m.sessions, 1);

    // Forged MAC, replayed counter, another caller's key: refused, before any decoding.
    let forged = call(&mut c, session_request(&s, &me, &key, 11, 1.0, true)).await;
    assert_eq!(forged, Err(Code::Unauthenticated));
    let replayed = call(&mut c, session_request(&s, &me, &key, 10, 10.0, false)).await;
    assert_eq!(replayed, Err(Code::Unauthenticated));
    let mut stolen = session_request(&s, &me, &key, 12, 1.0, false);
    stolen.get_mut().neuron_key = caller(2).public_hex();
    assert_eq!(call(&mut c, stolen).await, Err(Code::Unauthenticated));
    // A session id the axon never issued.
    let unknown = Session {
        id: [0xee; 16],
        key: s.key.clone(),
    };
    assert_eq!(
        call(&mut c, session_request(&unknown, &me, &key, 1, 1.0, false)).await,
        Err(Code::Unauthenticated)
    );
    // The refusals burned nothing: counter 11 (whose forgery was refused) still works.
    call(&mut c, session_request(&s, &me, &key, 11, 1.0, false))
        .await
        .unwrap();
    let m = axon.metrics();
    assert_eq!(m.session_refusals, 4);
    assert_eq!(m.signatures_verified, 1);
    // The gauges are exported.
    assert!(
        m.to_prometheus()
            .contains("bt_axon_session_requests_total 11\n")
    );
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn counters_out_of_order_within_the_window_are_accepted_once() {
    let key = synapse_key(1);
    let axon = echo_axon(AxonConfig::default(), &key).await;
    let mut c = client(axon.local_addr()).await;
    let me = caller(1);
    let s = handshake(&mut c, &me, &key).await.unwrap().unwrap();
    // 64 concurrent requests sent in reverse counter order, then interleaved gaps.
    let mut tasks = Vec::new();
    for counter in (1..=64u64).rev() {
        let mut c = c.clone();
        let req = session_request(&s, &me, &key, counter, 0.5, false);
        tasks.push(tokio::spawn(async move { call(&mut c, req).await }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Ok(()));
    }
    for counter in [500, 100, 300, 65, 499] {
        call(&mut c, session_request(&s, &me, &key, counter, 0.5, false))
            .await
            .unwrap();
    }
    for counter in [1, 64, 100, 500] {
        let r = call(&mut c, session_request(&s, &me, &key, counter, 0.5, false)).await;
        assert_eq!(r, Err(Code::Unauthenticated), "replay of {counter}");
    }
    // Far ahead: everything more than the window below is refused, even if never used.
    call(&mut c, session_request(&s, &me, &key, 5_000, 0.5, false))
        .await
        .unwrap();
    let r = call(&mut c, session_request(&s, &me, &key, 600, 0.5, false)).await;
    assert_eq!(r, Err(Code::Unauthenticated));
    call(&mut c, session_request(&s, &me, &key, 4_500, 0.5, false))
        .await
        .unwrap();
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_flood_of_handshakes_neither_grows_the_table_nor_evicts_sessions_in_use() {
    let key = synapse_key(1);
    let config = AxonConfig {
        max_sessions: 8,
        max_sessions_per_caller: 2,
        ..AxonConfig::default()
    };
    let axon = echo_axon(config, &key).await;
    let mut c = client(axon.local_addr()).await;
    let first_key = caller(1);
    let first = handshake(&mut c, &first_key, &key).await.unwrap().unwrap();
    // One key opening many sessions only ever holds two.
    for _ in 0..5 {
        handshake(&mut c, &caller(2), &key).await.unwrap().unwrap();
    }
    // Many keys: the table fills, then newcomers are served without a session.
    let mut refused = 0;
    for i in 3..40u8 {
        let accepted = handshake(&mut c, &caller(i), &key).await.unwrap();
        refused += usize::from(accepted.is_none());
        assert!(axon.metrics().sessions <= 8);
    }
    let m = axon.metrics();
    assert_eq!(m.sessions, 8);
    assert_eq!(refused, 37 - 5);
    assert_eq!(m.sessions_opened, 1 + 5 + 5);
    // The first session, in use within session_protect_recent, survived the flood.
    call(
        &mut c,
        session_request(&first, &first_key, &key, 1, 1.0, false),
    )
    .await
    .unwrap();
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// Denies the callers in its set; lets the test change its mind.
#[derive(Default)]
struct DenyList(Mutex<HashSet<PublicKey>>);

impl Policy for DenyList {
    fn check(&self, caller: Option<&PublicKey>, _: &str, _: RpcMethod) -> Decision {
        match caller {
            Some(k) if self.0.lock().unwrap().contains(k) => Decision::Deny("denied".into()),
            _ => Decision::Allow(Priority::Normal),
        }
    }
}

#[tokio::test]
async fn the_policy_sees_the_session_caller_and_refused_keys_get_no_session() {
    let key = synapse_key(1);
    let policy = Arc::new(DenyList::default());
    let axon = bt_axon::Axon::builder(AxonConfig::default())
        .serve_synapse(key.clone(), Arc::new(EchoSynapse))
        .policy(policy.clone())
        .start(loopback())
        .await
        .unwrap();
    let mut c = client(axon.local_addr()).await;
    let (good, bad) = (caller(1), caller(2));
    policy.0.lock().unwrap().insert(bad.public());
    let refused = handshake(&mut c, &bad, &key).await.map(|_| ()).unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(axon.metrics().sessions_opened, 0);

    let s = handshake(&mut c, &good, &key).await.unwrap().unwrap();
    call(&mut c, session_request(&s, &good, &key, 1, 1.0, false))
        .await
        .unwrap();
    // Blacklisted later: the session no longer helps.
    policy.0.lock().unwrap().insert(good.public());
    let r = call(&mut c, session_request(&s, &good, &key, 2, 1.0, false)).await;
    assert_eq!(r, Err(Code::PermissionDenied));
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn with_sessions_off_offers_are_ignored_and_session_requests_refused() {
    let key = synapse_key(1);
    let config = AxonConfig {
        sessions: false,
        ..AxonConfig::default()
    };
    let axon = echo_axon(config, &key).await;
    let mut c = client(axon.local_addr()).await;
    let me = caller(1);
    // The offer is ignored; the request is served on its plain signature.
    assert!(handshake(&mut c, &me, &key).await.unwrap().is_none());
    let fake = Session {
        id: [1; 16],
        key: SessionInitiator::generate()
            .complete(
                &SessionAccept {
                    version: SessionVersion::V1,
                    session_id: [1; 16],
                    share: *SessionInitiator::generate().share(),
                },
                "a",
                "b",
            )
            .unwrap(),
    };
    let r = call(&mut c, session_request(&fake, &me, &key, 1, 1.0, false)).await;
    assert_eq!(r, Err(Code::Unauthenticated));
    // Even an axon that allows unsigned requests does not take a session request as one.
    let open = echo_axon(
        AxonConfig {
            allow_unsigned: true,
            ..AxonConfig::default()
        },
        &key,
    )
    .await;
    let mut c2 = client(open.local_addr()).await;
    let r = call(&mut c2, session_request(&fake, &me, &key, 1, 1.0, false)).await;
    assert_eq!(r, Err(Code::Unauthenticated));
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
    open.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn a_bad_offer_signature_is_refused_and_large_requests_use_sessions_too() {
    let key = synapse_key(1);
    let config = AxonConfig {
        inline_max_bytes: 0, // everything on the blocking pool
        ..AxonConfig::default()
    };
    let axon = echo_axon(config, &key).await;
    let mut c = client(axon.local_addr()).await;
    let me = caller(1);
    // An offer signed by someone else than the request's neuron_key.
    let msg = signed(
        &me,
        message(&key, vec![f32_tensor(&[1.0])]),
        RpcMethod::Forward,
    );
    let init = SessionInitiator::generate();
    let offer = init.offer(&caller(2), &message_digest(&msg, RpcMethod::Forward));
    let mut req = request(msg, Duration::from_secs(5));
    req.metadata_mut()
        .insert(OFFER_HEADER, offer.encode().parse().unwrap());
    assert_eq!(call(&mut c, req).await, Err(Code::Unauthenticated));
    assert_eq!(axon.metrics().sessions_opened, 0);

    for (ask, version) in [(None, SessionVersion::V1), (Some("2"), SessionVersion::V2)] {
        let s = handshake_asking(&mut c, &me, &key, ask)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(s.key.version(), version);
        call(&mut c, session_request(&s, &me, &key, 1, 1.0, false))
            .await
            .unwrap();
        let r = call(&mut c, session_request(&s, &me, &key, 2, 1.0, true)).await;
        assert_eq!(r, Err(Code::Unauthenticated));
    }
    let m = axon.metrics();
    assert_eq!((m.session_requests, m.session_refusals), (2, 2));
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn the_session_version_is_negotiated_and_binds_the_payload_hash() {
    let key = synapse_key(1);
    let V2Session {
        axon,
        client: mut c,
        me,
        session: s,
    } = v2_session(&key).await;
    // A caller that speaks version 2 gets version 2.
    {
        assert_eq!(s.key.version(), SessionVersion::V2);
        call(&mut c, session_request(&s, &me, &key, 1, 1.0, false))
            .await
            .unwrap();
        // A large payload is bound by its BLAKE3 hash, a small one by its SHA-256 hash; the
        // other hash does not authenticate either.
        let large = vec![0.5f32; 4096];
        let ok = session_request_hashed(&s, &me, &key, 4, &large, false, None);
        call(&mut c, ok).await.unwrap();
        let sha =
            session_request_hashed(&s, &me, &key, 5, &large, false, Some(PayloadHash::Sha256));
        assert_eq!(call(&mut c, sha).await, Err(Code::Unauthenticated));
        let b3 = session_request_hashed(&s, &me, &key, 5, &[1.0], false, Some(PayloadHash::Blake3));
        assert_eq!(call(&mut c, b3).await, Err(Code::Unauthenticated));
        // Nor does a header that claims version 1 for a version-2 session.
        let mut downgraded = session_request(&s, &me, &key, 3, 1.0, false);
        claim_session_version(&mut downgraded, '1');
        assert_eq!(call(&mut c, downgraded).await, Err(Code::Unauthenticated));
        // The refusals burned no counter.
        call(&mut c, session_request(&s, &me, &key, 2, 2.0, false))
            .await
            .unwrap();
    }
    // A caller from the future (version 9) gets the highest this axon speaks.
    let from_the_future = handshake_asking(&mut c, &me, &key, Some("9"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(from_the_future.key.version(), SessionVersion::V2);

    // An axon that speaks only version 1 answers a version-2 caller with version 1, and refuses
    // version-2 session requests.
    let old = echo_axon(
        AxonConfig {
            session_version: SessionVersion::V1,
            ..AxonConfig::default()
        },
        &key,
    )
    .await;
    let mut c1 = client(old.local_addr()).await;
    let s = handshake_asking(&mut c1, &me, &key, Some("2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.key.version(), SessionVersion::V1);
    call(&mut c1, session_request(&s, &me, &key, 1, 1.0, false))
        .await
        .unwrap();
    let mut upgraded = session_request(&s, &me, &key, 2, 1.0, false);
    claim_session_version(&mut upgraded, '2');
    assert_eq!(call(&mut c1, upgraded).await, Err(Code::Unauthenticated));
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
    old.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// `req` as raw gRPC: its body, its `bt-session` moved into a trailer, and `header` (if any)
/// as a `bt-session` header.
/// The `grpc-status` of a served request, as [`send_proof_as_trailer`] returns it.
fn ok() -> Option<String> {
    Some("0".to_string())
}

/// The `grpc-status` of a request refused as unauthenticated.
fn refused() -> Option<String> {
    Some((Code::Unauthenticated as i32).to_string())
}

/// `req` with its `bt-session` proof as a trailer, and `extra` headers.
async fn send_proof_as_trailer(
    addr: std::net::SocketAddr,
    req: tonic::Request<TensorMessage>,
    extra: &[(&'static str, String)],
) -> Option<String> {
    use prost::Message as _;
    let proof = req
        .metadata()
        .get(SESSION_HEADER)
        .unwrap()
        .to_str()
        .unwrap();
    let mut trailers = http::HeaderMap::new();
    trailers.insert(SESSION_HEADER, proof.parse().unwrap());
    let mut headers = http::HeaderMap::new();
    for (name, value) in extra {
        headers.insert(*name, value.parse().unwrap());
    }
    let body = grpc_frame(&req.into_inner().encode_to_vec());
    grpc_raw_with(addr, headers, Some(trailers), body).await
}

/// A caller may send the proof after the body, as an HTTP/2 trailer (bt-dendrite does so for
/// large payloads, hashing while it sends): it is checked exactly as a header is. With one in
/// each place, the trailer's is the one checked.
#[tokio::test]
async fn the_proof_may_follow_the_body_as_a_trailer() {
    let key = synapse_key(1);
    let V2Session {
        axon,
        me,
        session: s,
        ..
    } = v2_session(&key).await;
    let addr = axon.local_addr();
    let large = vec![0.25f32; 256 << 10];
    let req = |counter, forge| session_request_hashed(&s, &me, &key, counter, &large, forge, None);
    let proof = |counter, forge| {
        let r: tonic::Request<TensorMessage> = req(counter, forge);
        let value = r.metadata().get(SESSION_HEADER).unwrap().to_str().unwrap();
        [(SESSION_HEADER, value.to_owned())]
    };
    assert_eq!(send_proof_as_trailer(addr, req(1, false), &[]).await, ok());
    // Replayed or forged: refused, and neither burns a counter.
    assert_eq!(
        send_proof_as_trailer(addr, req(1, false), &[]).await,
        refused()
    );
    assert_eq!(
        send_proof_as_trailer(addr, req(2, true), &[]).await,
        refused()
    );
    // A valid header does not save a forged trailer; a forged header does not spoil a valid one.
    let valid_header = send_proof_as_trailer(addr, req(2, true), &proof(2, false)).await;
    assert_eq!(valid_header, refused());
    assert_eq!(
        send_proof_as_trailer(addr, req(2, false), &proof(2, true)).await,
        ok()
    );
    let m = axon.metrics();
    assert_eq!((m.signatures_verified, m.session_requests), (1, 2), "{m:?}");
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// A request whose proof follows as a trailer may name its session in `bt-session-late`: the
/// axon then hashes the payload before the proof arrives (for a live session of the caller
/// only), and checks the proof exactly as without the header.
#[tokio::test]
async fn a_named_session_is_hashed_before_its_proof_arrives() {
    let key = synapse_key(1);
    let V2Session {
        axon,
        me,
        session: s,
        ..
    } = v2_session(&key).await;
    let addr = axon.local_addr();
    let large = vec![0.75f32; 256 << 10];
    let req = |counter, forge| session_request_hashed(&s, &me, &key, counter, &large, forge, None);
    let hint = |version: SessionVersion, id: SessionId| {
        let hint = SessionHint {
            version,
            session_id: id,
        };
        [(LATE_HEADER, hint.encode())]
    };
    let named = hint(SessionVersion::V2, s.id);
    assert_eq!(
        send_proof_as_trailer(addr, req(1, false), &named).await,
        ok()
    );
    assert_eq!(axon.metrics().early_digests, 1);
    // A forged proof is refused as ever (its payload was hashed early: that is all it cost),
    // and burns no counter.
    assert_eq!(
        send_proof_as_trailer(addr, req(2, true), &named).await,
        refused()
    );
    assert_eq!(axon.metrics().early_digests, 2);
    // An unknown session, another version than the proof's, or a malformed value: no early
    // hash (or an unused one), and the request is served on its proof.
    let unknown = hint(SessionVersion::V2, [9; 16]);
    assert_eq!(
        send_proof_as_trailer(addr, req(2, false), &unknown).await,
        ok()
    );
    let other_version = hint(SessionVersion::V1, s.id);
    assert_eq!(
        send_proof_as_trailer(addr, req(3, false), &other_version).await,
        ok()
    );
    let malformed = [(LATE_HEADER, "2.zz".to_owned())];
    assert_eq!(
        send_proof_as_trailer(addr, req(4, false), &malformed).await,
        ok()
    );
    let m = axon.metrics();
    assert_eq!(m.early_digests, 2, "{m:?}");
    assert_eq!((m.session_requests, m.session_refusals), (4, 1), "{m:?}");
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// A version-2 session request above `inline_max_bytes` but within 4× it is served on the
/// executor (BLAKE3 is that much cheaper than SHA-256), by the same rules as everywhere else.
#[tokio::test]
async fn mid_size_version_2_requests_follow_the_same_rules() {
    let key = synapse_key(1);
    let V2Session {
        axon,
        client: mut c,
        me,
        session: s,
    } = v2_session(&key).await;
    // 240 KiB: above the 64 KiB SHA-256 limit, below the 256 KiB one of version 2.
    let mid = vec![0.5f32; 60 << 10];
    let req = |counter, forge| session_request_hashed(&s, &me, &key, counter, &mid, forge, None);
    assert_eq!(call(&mut c, req(1, true)).await, Err(Code::Unauthenticated));
    call(&mut c, req(1, false)).await.unwrap();
    assert_eq!(
        call(&mut c, req(1, false)).await,
        Err(Code::Unauthenticated)
    );
    let sha = session_request_hashed(&s, &me, &key, 2, &mid, false, Some(PayloadHash::Sha256));
    assert_eq!(call(&mut c, sha).await, Err(Code::Unauthenticated));
    call(&mut c, req(2, false)).await.unwrap();
    let m = axon.metrics();
    assert_eq!((m.session_requests, m.session_refusals), (2, 3), "{m:?}");
    axon.shutdown(Duration::from_secs(5)).await.unwrap();
}
