//! Which SDK headers our dendrite sends: the full set until an axon shows it is ours (a
//! success without the echo headers, which only our axons leave out and only when asked), the
//! lean set after that, and the full set again as soon as an answer echoes them (an SDK axon
//! took the address). A raw HTTP/1.1 server on 127.0.0.1 records each request's header names
//! and answers as told, so each step is observed on the wire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bt_crypto::wallet::{AccountId, Sr25519Pair};
use bt_dendrite::http::{AxonTarget, HttpAuth, HttpDendrite, HttpDendriteConfig};
use bt_http::builtin::Dummy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// How the raw server answers the next request.
#[derive(Clone, Copy, Debug)]
enum Answer {
    /// 200 with the terminals only in the body (as our axon answers `bt-terminals-in-body`).
    Lean,
    /// 200 with the SDK's echo headers too (as an SDK axon answers everyone).
    Echoing,
}

/// One request: its lower-case header names.
type Seen = Vec<String>;

async fn read_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Seen> {
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..end].to_vec()).ok()?;
    let names: Seen = head
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, _)| k.trim().to_ascii_lowercase())
        })
        .collect();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < end + len {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    buf.drain(..end + len);
    Some(names)
}

fn answer(how: Answer) -> Vec<u8> {
    let body = br#"{"dummy_output": 14, "axon": {"status_code": 200, "status_message": "Success", "process_time": 0.125}}"#;
    let echo = match how {
        Answer::Lean => "",
        Answer::Echoing => {
            "bt_header_axon_status_code: 200\r\nbt_header_axon_status_message: Success\r\n\
             bt_header_axon_process_time: 0.25\r\n"
        }
    };
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{echo}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A server that answers each request as the next entry of `script` and reports what it saw.
async fn serve(script: Vec<Answer>) -> (std::net::SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let script = Arc::new(std::sync::Mutex::new(script.into_iter()));
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let (tx, script) = (tx.clone(), script.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                while let Some(seen) = read_request(&mut s, &mut buf).await {
                    let Some(how) = script.lock().unwrap().next() else {
                        return;
                    };
                    let _ = tx.send(seen);
                    if s.write_all(&answer(how)).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn the_lean_header_set_goes_only_to_an_axon_whose_last_answer_showed_it_is_ours() {
    let (addr, mut seen) = serve(vec![Answer::Lean, Answer::Echoing, Answer::Lean]).await;
    let dendrite = HttpDendrite::new(
        Arc::new(Sr25519Pair::generate()),
        HttpDendriteConfig {
            auth: HttpAuth::V10,
            sessions: false,
            ..HttpDendriteConfig::default()
        },
    );
    let target = AxonTarget {
        addr,
        hotkey: AccountId([7; 32]),
    };
    let call = |i: i64| {
        let (dendrite, target) = (dendrite.clone(), target.clone());
        async move {
            let s = Dummy {
                dummy_input: i,
                dummy_output: None,
            };
            dendrite.call(&target, s, Duration::from_secs(10)).await
        }
    };
    let has = |names: &Seen, n: &str| names.iter().any(|x| x == n);

    // First contact: the full SDK set, and the ask for a lean answer.
    let (answered, outcome) = call(7).await;
    let first = seen.recv().await.unwrap();
    for n in [
        "name",
        "bt_header_axon_hotkey",
        "total_size",
        "bt-terminals-in-body",
    ] {
        assert!(has(&first, n), "first request lacks {n}: {first:?}");
    }
    // The answer echoed nothing: the outcome is the body's terminal.
    assert!(outcome.is_success(), "{outcome:?}");
    assert_eq!(outcome.process_time, Some(0.125));
    assert_eq!(answered.dummy_output, Some(14));

    // It showed itself ours: the lean set, still signed.
    let (_, outcome) = call(8).await;
    let second = seen.recv().await.unwrap();
    for n in [
        "name",
        "bt_header_axon_hotkey",
        "bt_header_dendrite_ip",
        "total_size",
    ] {
        assert!(!has(&second, n), "lean request carries {n}: {second:?}");
    }
    for n in [
        "timeout",
        "bt_header_dendrite_nonce",
        "bt_header_dendrite_hotkey",
        "bt_header_dendrite_uuid",
        "bt_header_dendrite_signature",
        "computed_body_hash",
    ] {
        assert!(has(&second, n), "lean request lacks {n}: {second:?}");
    }
    // That answer echoed the headers, and they win over the body.
    assert_eq!(outcome.process_time, Some(0.25));

    // An echoing answer means an SDK axon may be there now: the full set again.
    call(9).await;
    let third = seen.recv().await.unwrap();
    assert!(
        has(&third, "name") && has(&third, "bt_header_axon_hotkey"),
        "{third:?}"
    );
}
