//! `cargo bench -p bt-consensus`: epoch time with dense weights (every validator weights every
//! neuron) against the targets (n = 256 with 64 validators ≤ 5 ms; n = 4096 with 256 validators
//! ≤ 100 ms). The baseline measured in the same run is one pass that reads every stored weight
//! and bond and sums it in I32F32, so "passes" says how many input scans an epoch costs.
//! "wall" is a median; "cpu" the mean on-CPU time of the thread (Linux schedstat), which stays
//! meaningful when other jobs share the machine, and is what "cpu/target" compares.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use bt_consensus::{Hyperparams, I32F32, SparseRow, SubnetState, epoch};

/// Deterministic pseudo-random u16s (xorshift), so every run measures the same input.
struct Rng(u64);
impl Rng {
    fn next_u16(&mut self) -> u16 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 48) as u16
    }
}

fn dense_state(n: usize, validators: usize, hp: &Hyperparams) -> SubnetState {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let weights: Vec<SparseRow> = (0..n)
        .map(|i| {
            if i < validators {
                (0..n as u16).map(|j| (j, rng.next_u16() | 1)).collect()
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut state = SubnetState {
        block: 10_000,
        stake: (0..n)
            .map(|i| {
                if i < validators {
                    1_000_000 + i as u64 * 7_919
                } else {
                    0
                }
            })
            .collect(),
        last_update: vec![9_999; n],
        block_at_registration: vec![0; n],
        validator_permit: (0..n).map(|i| i < validators).collect(),
        weights,
        bonds: vec![Vec::new(); n],
        owner: None,
        emission: 1_000_000_000,
    };
    // One warm-up epoch so that the timed epochs carry a full bond matrix, as on a live subnet.
    let out = epoch(&state, hp).unwrap();
    state.bonds = out.bonds;
    state.validator_permit = out.validator_permit;
    state
}

fn scan(state: &SubnetState) -> I32F32 {
    let mut acc = I32F32::from_num(0);
    for row in state.weights.iter().chain(&state.bonds) {
        for (_, v) in row {
            acc = acc.saturating_add(I32F32::from_num(*v));
        }
    }
    acc
}

/// Nanoseconds this thread has spent on a CPU (Linux `schedstat`), so that the numbers mean
/// something on a machine shared with other jobs; `None` elsewhere.
fn cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Median wall time of `runs` calls (after one warm-up call), and the mean on-CPU time over
/// all of them (schedstat advances in scheduler ticks, so it is read around the whole batch).
fn median_time(mut f: impl FnMut(), runs: usize) -> (Duration, Option<Duration>) {
    f();
    let mut wall = Vec::with_capacity(runs);
    let cpu_start = cpu_ns();
    for _ in 0..runs {
        let t = Instant::now();
        f();
        wall.push(t.elapsed());
    }
    let cpu = match (cpu_start, cpu_ns()) {
        (Some(a), Some(b)) => Some(Duration::from_nanos(b.saturating_sub(a) / runs as u64)),
        _ => None,
    };
    wall.sort();
    (wall[wall.len() / 2], cpu)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs once with few repetitions.
    let quick = !std::env::args().any(|a| a == "--bench");
    println!(
        "{:<8} {:>6} {:>6} {:>10} {:>12} {:>12} {:>10} {:>9} {:>8}",
        "mode", "n", "vals", "nnz", "wall", "cpu", "target", "cpu/target", "passes"
    );
    for (n, validators, target_ms, runs) in
        [(256usize, 64usize, 5.0f64, 50usize), (4096, 256, 100.0, 7)]
    {
        for mode in ["classic", "yuma3", "liquid"] {
            let hp = Hyperparams {
                yuma3_enabled: mode != "classic",
                liquid_alpha_enabled: mode == "liquid",
                max_allowed_validators: validators as u16,
                max_allowed_uids: n as u16,
                ..Hyperparams::default()
            };
            let state = dense_state(n, validators, &hp);
            let runs = if quick { 1 } else { runs };
            let (wall, cpu) = median_time(
                || drop(black_box(epoch(black_box(&state), &hp).unwrap())),
                runs,
            );
            let (base_wall, _) = median_time(
                || {
                    black_box(scan(black_box(&state)));
                },
                runs.max(20),
            );
            let nnz: usize = state.weights.iter().chain(&state.bonds).map(Vec::len).sum();
            // Against the target: CPU time when the OS reports it (robust to other jobs on the
            // machine), else wall. Passes: wall against wall (the scan is too short for ticks).
            let t = cpu.unwrap_or(wall);
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "{:<8} {:>6} {:>6} {:>10} {:>9.3} ms {:>9.3} ms {:>7.0} ms {:>9.2}x {:>8.1}",
                mode,
                n,
                validators,
                nnz,
                ms(wall),
                cpu.map_or(f64::NAN, ms),
                target_ms,
                ms(t) / target_ms,
                wall.as_secs_f64() / base_wall.as_secs_f64().max(1e-9)
            );
        }
    }
}
