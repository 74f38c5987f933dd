//! HTTP session-handshake flood: an attacker mints sr25519 hotkeys (free) and opens a session
//! with each, from several loopback addresses, as fast as it can: every handshake is a validly
//! signed `Dummy` request carrying `bt-session-offer`. Half of the attacker's sessions are then
//! used once (so they count as in use), half never. Meanwhile an honest dendrite works under
//! its own session. The axon runs with small caps (`--http_max_sessions`,
//! `--http_max_sessions_per_ip`): the table never holds more than its cap, one address never
//! more than its share, sessions never used are dropped first, and the honest session, in use,
//! is never pushed out.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bt_crypto::http_auth::session::{SessionFields, key_context, request_digest, sign_offer};
use bt_crypto::http_auth::{v10_message, v10_sign};
use bt_crypto::session::{
    ACCEPT_HEADER, OFFER_HEADER, SESSION_HEADER, SessionAccept, SessionInitiator, SessionMac,
    VERSION_HEADER,
};
use bt_crypto::wallet::{AccountId, Sr25519Pair};
use bt_dendrite::http::{AxonTarget, HttpAuth, HttpDendrite, HttpDendriteConfig};
use bt_http::builtin::Dummy;
use bt_http::headers::synapse_headers;
use bt_http::{Envelope, SynapseMessage, TerminalInfo};
use bt_testnet::attack::{AttackRow, HonestLoad, ProcStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::target::{DummyAxon, hotkey, metric};

/// Attacker source addresses (127.0.0.2 …), the honest caller is 127.0.0.1.
pub const ADDRESSES: u8 = 4;
/// The caps the axon runs with.
pub const MAX_SESSIONS: u64 = 24;
pub const PER_IP: u64 = 8;
const DURATION: Duration = Duration::from_secs(8);

pub struct Report {
    pub row: AttackRow,
    /// Handshakes sent, and answered with a session.
    pub handshakes: u64,
    pub accepted: u64,
    /// The axon's `bt_http_axon_sessions` at the end.
    pub sessions_at_end: u64,
    /// Session requests the axon refused: attacker sessions dropped (never used ones first)
    /// before the attacker used them.
    pub session_refusals: u64,
    /// Requests the honest dendrite made under its session during the flood.
    pub honest_session_requests: u64,
}

pub async fn run() -> Report {
    let dir = tempfile::tempdir().unwrap();
    let axon = DummyAxon::start(
        dir.path(),
        &[
            "--http_max_sessions",
            &MAX_SESSIONS.to_string(),
            "--http_max_sessions_per_ip",
            &PER_IP.to_string(),
        ],
    )
    .await;
    let pid = axon.pid();
    let addr: SocketAddr = axon.addr.parse().unwrap();
    let (dendrite, target) = honest_dendrite(dir.path(), &axon);
    // The honest dendrite's session is open and in use before the flood: the first call
    // learns the axon speaks sessions, the second opens one.
    for i in 0..3 {
        dendrite
            .call(&target, dummy(i), Duration::from_secs(5))
            .await;
    }
    let honest_before = metric(&axon.addr, "bt_http_axon_session_requests_total").await;
    assert!(honest_before > 0, "the honest dendrite has no session");
    // Every honest call during the flood must be served under that session.
    let mut i = 0;
    let honest = HonestLoad::start(Duration::from_millis(50), move || {
        i += 1;
        let (dendrite, target, input) = (dendrite.clone(), target.clone(), i);
        async move {
            let (answer, outcome) = dendrite
                .call(&target, dummy(input), Duration::from_secs(2))
                .await;
            outcome.is_success() && outcome.session && answer.dummy_output == Some(2 * input)
        }
    });
    ProcStatus::reset_peak(pid);
    let before = ProcStatus::read(pid).unwrap();

    let floods = (0..ADDRESSES).map(|i| {
        let source = SocketAddr::from(([127, 0, 0, 2 + i], 0));
        let hotkey = axon.hotkey.clone();
        tokio::spawn(flood(source, addr, hotkey))
    });
    let (mut handshakes, mut accepted, mut bytes) = (0, 0, 0);
    for f in floods {
        let (h, a, b) = f.await.unwrap();
        handshakes += h;
        accepted += a;
        bytes += b;
    }
    let honest_after = metric(&axon.addr, "bt_http_axon_session_requests_total").await;
    let served = honest.stop().await;
    let after = ProcStatus::read(pid).unwrap();
    let sessions_at_end = metric(&axon.addr, "bt_http_axon_sessions").await;
    let session_refusals = metric(&axon.addr, "bt_http_axon_session_refusals_total").await;
    let row = AttackRow::new(
        format!(
            "HTTP: {handshakes} session handshakes by minted hotkeys from {ADDRESSES} addresses"
        ),
        bytes,
        &before,
        &after,
        served,
    )
    .outcome(format!(
        "{accepted} accepted, {sessions_at_end} open at the end (cap {MAX_SESSIONS}), \
         {session_refusals} dropped before use; the honest session kept"
    ));
    Report {
        row,
        handshakes,
        accepted,
        sessions_at_end,
        session_refusals,
        honest_session_requests: honest_after.saturating_sub(honest_before),
    }
}

/// Handshakes from `source` for [`DURATION`], one at a time over a keep-alive connection; every
/// other accepted session is used once. Returns (handshakes, accepted, bytes sent).
async fn flood(source: SocketAddr, axon: SocketAddr, axon_ss58: String) -> (u64, u64, u64) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(source).unwrap();
    let mut conn = socket.connect(axon).await.unwrap();
    let until = Instant::now() + DURATION;
    let (mut sent, mut accepted, mut bytes) = (0u64, 0u64, 0u64);
    while Instant::now() < until {
        let me = Sr25519Pair::generate();
        let init = SessionInitiator::generate();
        let request = dummy_request(&me, &axon_ss58, axon, Auth::Offer(&init));
        bytes += request.len() as u64;
        sent += 1;
        let Some((status, head)) = exchange(&mut conn, &request).await else {
            // Closed on us (the axon may end a connection): open another.
            let socket = TcpSocket::new_v4().unwrap();
            socket.bind(source).unwrap();
            conn = socket.connect(axon).await.unwrap();
            continue;
        };
        let Some(accept) =
            header(&head, ACCEPT_HEADER).and_then(|v| SessionAccept::parse(v.as_bytes()).ok())
        else {
            assert_eq!(status, 200, "a handshake was not served");
            continue;
        };
        accepted += 1;
        if accepted % 2 == 0 {
            let key = init
                .complete(
                    &accept,
                    &me.ss58(),
                    &key_context(&axon_ss58, &axon.to_string()),
                )
                .unwrap();
            let mac = SessionMac::new(&key, &accept.session_id);
            let request = dummy_request(&me, &axon_ss58, axon, Auth::Mac(&mac));
            bytes += request.len() as u64;
            let _ = exchange(&mut conn, &request).await;
        }
    }
    (sent, accepted, bytes)
}

fn dummy(input: i64) -> Dummy {
    Dummy {
        dummy_input: input,
        dummy_output: None,
    }
}

fn honest_dendrite(wallets: &std::path::Path, axon: &DummyAxon) -> (HttpDendrite, AxonTarget) {
    let dendrite = HttpDendrite::new(
        std::sync::Arc::new(hotkey(wallets, "honest")),
        HttpDendriteConfig {
            auth: HttpAuth::V10,
            ..HttpDendriteConfig::default()
        },
    );
    let target = AxonTarget {
        addr: axon.addr.parse().unwrap(),
        hotkey: AccountId::from_ss58(&axon.hotkey).unwrap(),
    };
    (dendrite, target)
}

enum Auth<'a> {
    Offer(&'a SessionInitiator),
    Mac(&'a SessionMac),
}

/// A `Dummy` request as HTTP/1.1 bytes: v10-signed with an offer, or under a session.
fn dummy_request(me: &Sr25519Pair, axon_ss58: &str, axon: SocketAddr, auth: Auth<'_>) -> Vec<u8> {
    let synapse = Dummy {
        dummy_input: 1,
        dummy_output: None,
    };
    let nonce = bt_crypto::unix_nanos();
    let ss58 = me.ss58();
    let uuid = "flood";
    let body_hash = synapse.body_hash();
    let endpoint = axon.to_string();
    let fields = SessionFields {
        nonce,
        dendrite_ss58: &ss58,
        axon_ss58,
        uuid,
        body_hash: &body_hash,
    };
    let mut dendrite = TerminalInfo {
        nonce: Some(nonce),
        uuid: Some(uuid.into()),
        hotkey: Some(ss58.clone()),
        version: Some(bt_http::version_as_int()),
        ..TerminalInfo::default()
    };
    let mut extra = Vec::new();
    match auth {
        Auth::Offer(init) => {
            let message = v10_message(nonce, &ss58, axon_ss58, uuid, &body_hash);
            dendrite.signature = Some(v10_sign(me, &message));
            let offer = sign_offer(me, init.share(), &fields, &endpoint);
            extra.push((OFFER_HEADER, offer.encode()));
            extra.push((VERSION_HEADER, "2".into()));
        }
        Auth::Mac(mac) => {
            extra.push((
                SESSION_HEADER,
                mac.prove(1, &request_digest(&fields)).encode(),
            ));
        }
    }
    let envelope = Envelope {
        name: Some("Dummy".into()),
        timeout: Some(5.0),
        dendrite: Some(dendrite),
        axon: Some(TerminalInfo {
            hotkey: Some(axon_ss58.into()),
            ..TerminalInfo::default()
        }),
        computed_body_hash: Some(String::new()),
        ..Envelope::default()
    };
    let body = synapse.to_body(&envelope).unwrap();
    let mut head = format!("POST /Dummy HTTP/1.1\r\nhost: {endpoint}\r\n");
    for (k, v) in synapse_headers(&envelope, &synapse.input_obj_headers(), &body_hash) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    ));
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    out
}

/// Sends one request and reads its answer (status and head); `None` if the connection ended.
async fn exchange(conn: &mut TcpStream, request: &[u8]) -> Option<(u16, String)> {
    conn.write_all(request).await.ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let n = tokio::time::timeout_at(deadline, conn.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        let Some(end) = text.find("\r\n\r\n") else {
            continue;
        };
        let head = text[..end].to_string();
        let length: usize = header(&head, "content-length")?.parse().ok()?;
        if buf.len() < end + 4 + length {
            continue;
        }
        let status = head.get(9..12)?.parse().ok()?;
        return Some((status, head));
    }
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}
