//! What checking and reading a hostile text pickle allocates, measured by a counting allocator:
//! checking builds no list, reading builds one only within twice the pickle's size plus
//! `Limits::max_text_overhead`, back-references costing what their strings would.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use bt_alloc_count::peak_during;
use bt_tensor::{Limits, Modality, PickleError, TensorError, decode, pickle};
use bytes::Bytes;
use proptest::prelude::*;

#[global_allocator]
static ALLOCATOR: bt_alloc_count::Counting = bt_alloc_count::Counting;

/// Protocol 4: the list, one string `first` appended, then `refs` back-references to it.
fn back_references(first: &str, refs: usize) -> Vec<u8> {
    let mut p = vec![0x80, 4, b']', 0x94, b'(', b'X'];
    p.extend_from_slice(&u32::try_from(first.len()).unwrap().to_le_bytes());
    p.extend_from_slice(first.as_bytes());
    p.push(0x94);
    for _ in 0..refs {
        p.extend_from_slice(&[b'h', 1]);
    }
    p.extend_from_slice(b"e.");
    p
}

/// Protocol 4: `n` distinct-looking one-character strings, each memoized (four bytes each).
fn one_char_strings(n: usize) -> Vec<u8> {
    let mut p = vec![0x80, 4, b']', 0x94, b'('];
    for _ in 0..n {
        p.extend_from_slice(&[0x8c, 1, b'a', 0x94]);
    }
    p.extend_from_slice(b"e.");
    p
}

fn text_wire(pickle: Vec<u8>, strings: usize) -> bt_wire::Tensor {
    bt_wire::Tensor {
        buffer: Bytes::from(pickle),
        shape: vec![i64::try_from(strings).unwrap(), 1],
        dtype: bt_wire::DataType::Utf8 as i32,
        modality: Modality::Text.to_wire(),
        ..Default::default()
    }
}

#[test]
fn checking_back_references_builds_nothing() {
    let _serial = bt_alloc_count::serial();
    let refs = 2 << 20;
    let wire = text_wire(back_references("a", refs), refs + 1);
    let (peak, decoded) = peak_during(|| decode(&wire, &Limits::DEFAULT));
    let tensor = decoded.unwrap();
    assert!(
        peak < 4 << 10,
        "checking {} bytes cost {peak}",
        wire.buffer.len()
    );
    // 4 MiB of two-byte back-references would be 50 MiB of `String`s: over the budget.
    let (peak, strings) = peak_during(|| tensor.to_strings());
    assert!(
        matches!(
            strings,
            Err(TensorError::Pickle(PickleError::TooCostly { strings, .. })) if strings == refs + 1
        ),
        "{strings:?}"
    );
    assert!(peak < 4 << 10, "refusing cost {peak}");
}

#[test]
fn one_character_strings_are_counted_without_a_list() {
    let _serial = bt_alloc_count::serial();
    let n = 1 << 20;
    let wire = text_wire(one_char_strings(n), n);
    let len = wire.buffer.len();
    let (peak, decoded) = peak_during(|| decode(&wire, &Limits::DEFAULT));
    decoded.unwrap();
    // Counted against the memo table's shape: no table, no list.
    assert!(peak < 4 << 10, "checking {len} bytes cost {peak}");
    // Measuring builds the memo table, sized once: four bytes per string of four.
    let (peak, census) = peak_during(|| pickle::census(&wire.buffer, &Limits::DEFAULT));
    assert_eq!(census.unwrap().strings, n);
    assert!(peak <= len + (4 << 10), "measuring {len} bytes cost {peak}");
}

#[test]
fn a_long_string_cannot_fan_out() {
    let _serial = bt_alloc_count::serial();
    let long = "x".repeat(64 << 10);
    let p = back_references(&long, 1000);
    let (peak, read) = peak_during(|| pickle::read_str_list(&p, &Limits::DEFAULT));
    assert!(
        matches!(read, Err(PickleError::TooCostly { strings: 1001, .. })),
        "{read:?}"
    );
    assert!(peak < 4 << 10, "refusing cost {peak}");
    let (peak, refs) = peak_during(|| pickle::read_str_refs(&p, &Limits::DEFAULT));
    assert_eq!(refs.unwrap().len(), 1001);
    assert!(peak <= 2 * p.len() + (4 << 10), "borrowing cost {peak}");
}

proptest! {
    /// Reading succeeds exactly when its cost fits the budget, and then returns the strings;
    /// what it allocates stays within the budget plus the pickle's own memo table.
    #[test]
    fn reading_is_refused_exactly_over_budget(
        strings in prop::collection::vec(prop_oneof!["", "a", "b", ".{0,30}"], 0..200),
        protocol in prop::sample::select(vec![3u8, 4]),
        overhead in 0usize..8192,
    ) {
        let _serial = bt_alloc_count::serial();
        let p = pickle::write_str_list(&strings, protocol);
        let limits = Limits { max_text_overhead: overhead, ..Limits::DEFAULT };
        let census = pickle::census(&p, &limits).unwrap();
        prop_assert_eq!(census.strings, strings.len());
        prop_assert_eq!(census.text_bytes, strings.iter().map(String::len).sum::<usize>());
        let cost = strings.len() * std::mem::size_of::<String>() + census.text_bytes;
        let budget = pickle::text_budget(p.len(), &limits);
        let (peak, read) = peak_during(|| pickle::read_str_list(&p, &limits));
        if cost <= budget {
            prop_assert_eq!(read.unwrap(), strings.clone());
            // The output and the memo table (four bytes an entry, doubled while it grows).
            let memo = 8 * (strings.len() + 1);
            prop_assert!(peak <= cost + memo + 64, "cost {} memo {} peak {}", cost, memo, peak);
        } else {
            let refused = matches!(read, Err(PickleError::TooCostly { .. }));
            prop_assert!(refused);
        }
    }
}
