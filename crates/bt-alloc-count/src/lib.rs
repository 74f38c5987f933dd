//! A counting global allocator for memory tests and benches: the system allocator, with global
//! atomic counters (so allocations on every thread count, rayon's and tokio's included).
//!
//! A test or bench binary installs it with
//! `#[global_allocator] static A: bt_alloc_count::Counting = bt_alloc_count::Counting;` and
//! measures a closure with [`peak_during`] or [`counted`]; [`serial`] keeps measurements of
//! one binary from overlapping (the test harness runs tests on several threads). It has no
//! dependencies, so any crate can take it as a dev-dependency without a cycle.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// How many allocations of at least [`large_min`] bytes one [`counted`] run records.
pub const LARGE_SLOTS: usize = 64;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGE_MIN: AtomicUsize = AtomicUsize::new(64 << 10);
static LARGE: [AtomicUsize; LARGE_SLOTS] = [const { AtomicUsize::new(0) }; LARGE_SLOTS];
static LARGE_N: AtomicUsize = AtomicUsize::new(0);
static TRACING: AtomicBool = AtomicBool::new(false);
static ON_LARGE: OnceLock<fn(usize)> = OnceLock::new();
static SERIAL: Mutex<()> = Mutex::new(());

/// The system allocator, counting. A `realloc` counts as an allocation of its new size (it may
/// move, i.e. copy, the block).
pub struct Counting;

fn note(size: usize) {
    ALLOCS.fetch_add(1, Relaxed);
    BYTES.fetch_add(size as u64, Relaxed);
    if size >= LARGE_MIN.load(Relaxed) {
        let slot = LARGE_N.fetch_add(1, Relaxed);
        if let Some(s) = LARGE.get(slot) {
            s.store(size, Relaxed);
        }
        if TRACING.load(Relaxed)
            && let Some(f) = ON_LARGE.get()
        {
            f(size);
        }
    }
}

fn grow(by: usize) {
    let live = LIVE.fetch_add(by, Relaxed) + by;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the counters
// are atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        grow(layout.size());
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        grow(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        if new_size >= layout.size() {
            grow(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Bytes live on the heap now (zero unless [`Counting`] is the global allocator).
pub fn live() -> usize {
    LIVE.load(Relaxed)
}

/// Holds off other measurements of this binary while the guard lives (a panicking
/// measurement does not block the others).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f`; returns the highest heap it reached above what was live when it started, and its
/// result (returned, so that dropping it is not part of the measurement).
pub fn peak_during<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let out = f();
    (PEAK.load(Relaxed).saturating_sub(base), out)
}

/// What one run of a closure allocated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub allocs: u64,
    pub bytes: u64,
    /// Highest live heap above what was live when the closure started.
    pub peak: usize,
    /// Sizes of the first [`LARGE_SLOTS`] allocations of at least [`large_min`] bytes, in
    /// order.
    pub large: Vec<usize>,
}

/// Runs `f` and counts what it allocates; its result is returned, so that dropping it is not
/// part of the count.
pub fn counted<R>(f: impl FnOnce() -> R) -> (R, Counts) {
    let mut large = Vec::with_capacity(LARGE_SLOTS);
    let base_live = LIVE.load(Relaxed);
    PEAK.store(base_live, Relaxed);
    LARGE_N.store(0, Relaxed);
    let (a0, b0) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    let out = f();
    let (a1, b1) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    let peak = PEAK.load(Relaxed).saturating_sub(base_live);
    let n = LARGE_N.load(Relaxed).min(LARGE_SLOTS);
    large.extend(LARGE[..n].iter().map(|s| s.load(Relaxed)));
    (
        out,
        Counts {
            allocs: a1 - a0,
            bytes: b1 - b0,
            peak,
            large,
        },
    )
}

/// The size from which an allocation is "large": recorded in [`Counts::large`] and passed to
/// the hook of [`on_large`]. Default 64 KiB.
pub fn large_min() -> usize {
    LARGE_MIN.load(Relaxed)
}

pub fn set_large_min(bytes: usize) {
    LARGE_MIN.store(bytes, Relaxed);
}

/// Sets, once per binary, what runs on each large allocation while [`set_tracing`] is on (for
/// example printing a backtrace). The hook runs inside the allocator: it must guard against
/// its own allocations re-entering it.
pub fn on_large(hook: fn(usize)) {
    let _ = ON_LARGE.set(hook);
}

pub fn set_tracing(on: bool) {
    TRACING.store(on, Relaxed);
}

#[cfg(test)]
#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_buffer_is_counted_while_it_lives() {
        let _serial = serial();
        let (buf, counts) = counted(|| vec![1u8; 200_000]);
        assert!(counts.allocs >= 1 && counts.bytes >= 200_000, "{counts:?}");
        assert!(counts.peak >= 200_000, "{counts:?}");
        assert!(counts.large.contains(&200_000), "{counts:?}");
        let before = live();
        drop(buf);
        assert!(
            live() + 200_000 <= before,
            "freed bytes leave the live count"
        );
        let (peak, ()) = peak_during(|| drop(std::hint::black_box(vec![0u8; 4096])));
        assert!(peak >= 4096, "{peak}");
    }
}
