//! How training shows its progress: a live bar on a terminal, the seeds' log lines otherwise.
//!
//! The localnet supervisor (and anyone piping the output) reads the `Train Epoch: …` lines
//! from a non-terminal stdout, so those stay exactly as [`crate::report`] writes them. A person
//! at a terminal gets one bar per epoch whose message carries the same numbers, and the epoch's
//! last line is printed in the seeds' format above it so the scroll-back keeps a record.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use crate::report::TrainLine;

/// Where training lines go.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for an epoch of `total` examples when stdout is a terminal, plain lines otherwise.
    pub fn for_epoch(epoch: usize, total: usize) -> Self {
        Self::new(std::io::stdout().is_terminal(), epoch, total)
    }

    /// As [`Self::for_epoch`], choosing explicitly (tests, `--no-progress` style callers).
    pub fn new(bar: bool, epoch: usize, total: usize) -> Self {
        let bar = bar.then(|| {
            let b = ProgressBar::new(total as u64);
            // a template that fails to parse would be our bug; fall back to the default bar
            if let Ok(style) = ProgressStyle::with_template(
                "Epoch {prefix} [{bar:30}] {pos}/{len} ({percent}%) {elapsed_precise}<{eta_precise} {msg}",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_prefix(epoch.to_string());
            b
        });
        Self { bar }
    }

    pub fn is_bar(&self) -> bool {
        self.bar.is_some()
    }

    /// Reports one interval's line.
    pub fn line(&self, line: &TrainLine) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(line.seen as u64);
                bar.set_message(short_message(line));
                if line.seen >= line.total {
                    bar.println(line.to_string());
                }
            }
            None => println!("{line}"),
        }
    }

    /// Prints a line that must not be lost under the bar (test results, checkpoints).
    pub fn println(&self, text: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => bar.println(text.as_ref()),
            None => println!("{}", text.as_ref()),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A spinner for work of unknown length (loading a dataset, opening a chain database) on a
/// terminal; nothing at all when stdout is not one. It clears itself when dropped.
pub struct Spinner {
    bar: Option<ProgressBar>,
}

impl Spinner {
    pub fn start(message: impl Into<String>) -> Self {
        Self::new(std::io::stdout().is_terminal(), message)
    }

    pub fn new(on_terminal: bool, message: impl Into<String>) -> Self {
        let bar = on_terminal.then(|| {
            let b = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
                b.set_style(style);
            }
            b.set_message(message.into());
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        Self { bar }
    }

    pub fn is_shown(&self) -> bool {
        self.bar.is_some()
    }

    /// Says what the work is doing now.
    pub fn set_message(&self, message: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(message.into());
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// A bar for work of a known number of steps (reading every subnet of a chain, say) on a
/// terminal; nothing when stdout is not one. It clears itself when dropped.
pub struct Steps {
    bar: Option<ProgressBar>,
}

impl Steps {
    pub fn start(total: usize, what: impl Into<String>) -> Self {
        Self::new(std::io::stdout().is_terminal(), total, what)
    }

    pub fn new(on_terminal: bool, total: usize, what: impl Into<String>) -> Self {
        let bar = on_terminal.then(|| {
            let b = ProgressBar::new(total as u64);
            if let Ok(style) =
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} {elapsed}")
            {
                b.set_style(style.progress_chars("=> "));
            }
            b.set_prefix(what.into());
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        Self { bar }
    }

    /// Starts the next step, named `label`.
    pub fn step(&self, label: impl Into<String>) {
        if let Some(bar) = &self.bar {
            bar.set_message(label.into());
        }
    }

    /// Marks one step done.
    pub fn done_one(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    pub fn is_shown(&self) -> bool {
        self.bar.is_some()
    }
}

impl Drop for Steps {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The numbers of a [`TrainLine`] in the little room a bar leaves.
pub fn short_message(l: &TrainLine) -> String {
    format!(
        "local {:.4} network {:.4} distil {:.4} nP|nS {}|{}",
        l.local_loss, l.network_loss, l.distillation_loss, l.peers, l.synapses
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(seen: usize) -> TrainLine {
        TrainLine {
            epoch: 1,
            seen,
            total: 640,
            local_loss: 0.5,
            network_loss: 0.25,
            distillation_loss: 0.125,
            peers: 1,
            synapses: 2,
        }
    }

    #[test]
    fn bar_tracks_the_lines_and_plain_mode_has_no_bar() {
        let p = Progress::new(true, 1, 640);
        assert!(p.is_bar());
        p.line(&line(320));
        let bar = p.bar.as_ref().unwrap();
        assert_eq!(bar.position(), 320);
        assert_eq!(
            bar.message(),
            "local 0.5000 network 0.2500 distil 0.1250 nP|nS 1|2"
        );
        p.finish();
        assert!(!Progress::new(false, 1, 640).is_bar());
    }

    #[test]
    fn spinner_is_quiet_off_a_terminal() {
        assert!(!Spinner::new(false, "loading").is_shown());
        let s = Spinner::new(true, "loading");
        assert!(s.is_shown());
        s.set_message("still loading");
        assert_eq!(s.bar.as_ref().unwrap().message(), "still loading");
    }

    #[test]
    fn steps_count_on_a_terminal_and_are_quiet_off_one() {
        let quiet = Steps::new(false, 3, "subnets");
        quiet.step("subnet 1");
        quiet.done_one();
        assert!(!quiet.is_shown());
        let shown = Steps::new(true, 3, "subnets");
        shown.step("subnet 1");
        shown.done_one();
        shown.step("subnet 2");
        let bar = shown.bar.as_ref().unwrap();
        assert_eq!((bar.position(), bar.length()), (1, Some(3)));
        assert_eq!(bar.message(), "subnet 2");
    }
}
