//! Which counters of one session the axon has accepted: each at most once, within a window.

/// How far out of order the axon accepts counters: a counter is accepted while it is fewer than
/// this many below the highest seen (at most 959 below; 960 = a 1024-bit bitmap minus one
/// 64-bit block, RFC 6479). A caller with 64 requests in flight reorders by at most 64.
pub const REPLAY_WINDOW: u64 = 1024 - 64;

/// Which counters of one session were accepted: every counter at most once, and only the
/// counters fewer than [`REPLAY_WINDOW`] below the highest one seen (RFC 6479's ring of 64-bit blocks:
/// constant time, 128 bytes).
#[derive(Clone, Debug, Default)]
pub struct ReplayWindow {
    highest: u64,
    blocks: [u64; 16],
}

/// Why [`ReplayWindow::check_and_record`] refused a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterRefusal {
    /// Counter 0 is never sent.
    Zero,
    /// Seen before.
    Replayed,
    /// Below the window: it may or may not have been seen; refused either way.
    TooOld,
}

impl ReplayWindow {
    const BLOCKS: u64 = 16;

    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// Accept `counter` once.
    pub fn check_and_record(&mut self, counter: u64) -> Result<(), CounterRefusal> {
        if counter == 0 {
            return Err(CounterRefusal::Zero);
        }
        let block = counter / 64;
        if counter > self.highest {
            // Clear the blocks the window slides over (at most all of them).
            let current = self.highest / 64;
            let slide = (block - current).min(Self::BLOCKS);
            for i in 1..=slide {
                self.blocks[((current + i) % Self::BLOCKS) as usize] = 0;
            }
            self.highest = counter;
        } else if self.highest - counter >= REPLAY_WINDOW {
            return Err(CounterRefusal::TooOld);
        }
        let word = &mut self.blocks[(block % Self::BLOCKS) as usize];
        let bit = 1u64 << (counter % 64);
        if *word & bit != 0 {
            return Err(CounterRefusal::Replayed);
        }
        *word |= bit;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_accepts_each_counter_once_and_reorders_within_the_window() {
        let mut w = ReplayWindow::default();
        assert_eq!(w.check_and_record(0), Err(CounterRefusal::Zero));
        for c in [5, 3, 4, 1, 2] {
            w.check_and_record(c).unwrap();
        }
        for c in 1..=5 {
            assert_eq!(w.check_and_record(c), Err(CounterRefusal::Replayed));
        }
        w.check_and_record(1000).unwrap();
        // 1000 − 960 = 40: 41 is still inside, 40 is not.
        w.check_and_record(41).unwrap();
        assert_eq!(w.check_and_record(40), Err(CounterRefusal::TooOld));
        // A jump far ahead clears everything; old counters are then too old.
        w.check_and_record(1_000_000).unwrap();
        assert_eq!(w.check_and_record(1000), Err(CounterRefusal::TooOld));
        w.check_and_record(999_999).unwrap();
        assert_eq!(w.check_and_record(999_999), Err(CounterRefusal::Replayed));
        w.check_and_record(u64::MAX).unwrap();
        assert_eq!(w.check_and_record(u64::MAX), Err(CounterRefusal::Replayed));
    }
}
