//! `cargo bench -p bt-crypto`: µs per operation for the costs DESIGN.md worries about.
//! A plain timing loop (no criterion) keeps the run to a few seconds on a shared machine.

use std::hint::black_box;
use std::time::Instant;

use bt_crypto::session::{
    SessionConfig, SessionInitiator, SessionMac, SessionProof, SessionTable, SessionVersion,
    accept_offer_with, session_mac,
};
use bt_crypto::{
    NeuronKey, RpcMethod, sign_request, tensors_hash, tensors_hash_blake3, verify_request,
    verify_requests_batch,
};
use bt_wire::{Tensor, TensorMessage};

fn time_us(iters: u32, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(iters)
}

fn main() {
    let key = NeuronKey::from_seed([1; 32]);
    let receiver = NeuronKey::from_seed([2; 32]).public_hex();
    let small = |n: u8| TensorMessage {
        synapse_key: receiver.clone(),
        tensors: vec![Tensor {
            buffer: vec![n; 64].into(),
            shape: vec![16],
            dtype: 1,
            ..Default::default()
        }],
        ..Default::default()
    };

    let digest = [7u8; 32];
    let sig = key.sign(&digest);
    let public = key.public();
    let sign = time_us(2_000, || {
        black_box(key.sign(black_box(&digest)));
    });
    let verify = time_us(2_000, || {
        black_box(public.verify(black_box(&digest), &sig).is_ok());
    });

    let mut msg = small(0);
    let sign_req = time_us(2_000, || {
        sign_request(&key, &mut msg, RpcMethod::Forward, 1);
    });
    let verify_req = time_us(2_000, || {
        black_box(verify_request(black_box(&msg), RpcMethod::Forward).is_ok());
    });

    const BATCH: usize = 64;
    let signers: Vec<NeuronKey> = (0..BATCH as u8)
        .map(|i| NeuronKey::from_seed([i; 32]))
        .collect();
    let msgs: Vec<TensorMessage> = signers
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mut m = small(i as u8);
            sign_request(k, &mut m, RpcMethod::Forward, i as i64);
            m
        })
        .collect();
    let refs: Vec<(&TensorMessage, RpcMethod)> =
        msgs.iter().map(|m| (m, RpcMethod::Forward)).collect();
    let batch = time_us(50, || {
        black_box(verify_requests_batch(black_box(&refs)));
    }) / BATCH as f64;

    let big = vec![Tensor {
        buffer: vec![3u8; 1 << 20].into(),
        shape: vec![1 << 18],
        dtype: 1,
        ..Default::default()
    }];
    let hash_1mib = time_us(200, || {
        black_box(tensors_hash(black_box(&big)));
    });
    let blake3_1mib = time_us(200, || {
        black_box(tensors_hash_blake3(black_box(&big)));
    });

    // Per-request costs of a session (docs/protocol.md "Sessions"): the MAC keyed afresh for
    // every request (`session_mac`) next to the session's pre-keyed state (`SessionMac`), and
    // the axon's table check (MAC, caller, counter window, LRU) of one busy session.
    let (mac_fresh, mac_cached, table_auth) = session_costs(&key, &receiver);
    let kib = vec![Tensor {
        buffer: vec![3u8; 1 << 10].into(),
        shape: vec![256],
        dtype: 1,
        ..Default::default()
    }];
    let hash_1kib = time_us(20_000, || {
        black_box(tensors_hash(black_box(&kib)));
    });
    let blake3_1kib = time_us(20_000, || {
        black_box(tensors_hash_blake3(black_box(&kib)));
    });

    println!("bt-crypto bench (µs per op)");
    println!("  ed25519 sign (32-byte digest)          {sign:8.2}");
    println!("  ed25519 verify_strict                  {verify:8.2}");
    println!("  sign_request (64 B tensor)             {sign_req:8.2}");
    println!("  verify_request (64 B tensor)           {verify_req:8.2}");
    println!(
        "  verify_requests_batch, per request ({BATCH}) {batch:8.2}  ({:.2}x of verify_request)",
        batch / verify_req
    );
    println!(
        "  tensors_hash, 1 MiB tensor             {hash_1mib:8.2}  ({:.0} MB/s)",
        1.048576e6 / hash_1mib
    );
    println!(
        "  tensors_hash_blake3, 1 MiB (v2 session) {blake3_1mib:7.2}  ({:.0} MB/s, {:.2}x of SHA-256)",
        1.048576e6 / blake3_1mib,
        hash_1mib / blake3_1mib
    );
    println!("  tensors_hash, 1 KiB tensor             {hash_1kib:8.3}");
    println!("  tensors_hash_blake3, 1 KiB tensor      {blake3_1kib:8.3}");
    println!("  session_mac (keyed per request)        {mac_fresh:8.3}");
    println!(
        "  SessionMac::mac (keyed once)           {mac_cached:8.3}  ({:.2}x of session_mac)",
        mac_cached / mac_fresh
    );
    println!("  SessionTable::authenticate             {table_auth:8.3}");
}

fn session_costs(key: &NeuronKey, receiver: &str) -> (f64, f64, f64) {
    let init = SessionInitiator::from_secret_bytes([4; 32]);
    let offer = init.offer(key, &[5; 32]);
    let Ok((accept, axon_key)) = accept_offer_with(
        [6; 32],
        [7; 16],
        &offer,
        SessionVersion::LATEST,
        &key.public_hex(),
        receiver,
    ) else {
        panic!("the fixed handshake failed");
    };
    let sid = accept.session_id;
    let digest = [8u8; 32];
    let mut counter = 0u64;
    let fresh = time_us(100_000, || {
        counter += 1;
        black_box(session_mac(&axon_key, &sid, counter, black_box(&digest)));
    });
    let mac = SessionMac::new(&axon_key, &sid);
    let cached = time_us(100_000, || {
        counter += 1;
        black_box(mac.mac(counter, black_box(&digest)));
    });
    let caller_hex = key.public_hex();
    let mut table = SessionTable::new(SessionConfig::default());
    table
        .insert(sid, key.public(), &caller_hex, axon_key, 0, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut counter = 0u64;
    let proofs: Vec<SessionProof> = (0..100_001)
        .map(|_| {
            counter += 1;
            mac.prove(counter, &digest)
        })
        .collect();
    let mut next = proofs.iter();
    let auth = time_us(100_000, || {
        if let Some(p) = next.next() {
            black_box(table.authenticate(p, &caller_hex, &digest, 1).is_ok());
        }
    });
    (fresh, cached, auth)
}
