//! Child processes for multi-process tests: spawn, read their output without ever blocking
//! them, wait for a line with a deadline, SIGKILL, and put their output into failure messages.
//!
//! Output of both streams goes into one bounded ring per process (the last
//! [`OUTPUT_LINES`] lines, ANSI colours stripped), filled by two reader tasks that never
//! stop reading: a chatty child can never block on a full pipe, and a test that looks late
//! still sees recent lines. Each line gets a sequence number so that waits can start "from
//! now" ([`ChildProcess::mark`]).

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::{HarnessError, POLL};

/// Lines of output kept per process (both streams together).
pub const OUTPUT_LINES: usize = 2_000;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of a child's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Position in the child's output (both streams), from 0.
    pub seq: u64,
    pub stream: Stream,
    pub text: String,
}

#[derive(Default)]
struct Output {
    lines: VecDeque<Line>,
    next_seq: u64,
}

fn lock(out: &Mutex<Output>) -> MutexGuard<'_, Output> {
    out.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running child, killed (SIGKILL) when dropped.
pub struct ChildProcess {
    name: String,
    child: Child,
    output: Arc<Mutex<Output>>,
    readers: Vec<JoinHandle<()>>,
}

impl ChildProcess {
    /// Starts `cmd` with stdin closed and both output streams captured. `name` labels the
    /// process in errors.
    pub fn spawn(name: impl Into<String>, mut cmd: Command) -> Result<Self, HarnessError> {
        let name = name.into();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| HarnessError::Spawn {
            name: name.clone(),
            source: e,
        })?;
        let output = Arc::new(Mutex::new(Output::default()));
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(tokio::spawn(read_lines(
                out,
                Stream::Stdout,
                output.clone(),
            )));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(tokio::spawn(read_lines(
                err,
                Stream::Stderr,
                output.clone(),
            )));
        }
        Ok(Self {
            name,
            child,
            output,
            readers,
        })
    }

    /// The label given at spawn.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The OS process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// The sequence number the next line will get: pass it to [`Self::wait_for_line`] to
    /// consider only lines printed from now on.
    pub fn mark(&self) -> u64 {
        lock(&self.output).next_seq
    }

    /// Lines kept (the last [`OUTPUT_LINES`]) with `seq >= from`.
    pub fn lines_from(&self, from: u64) -> Vec<Line> {
        lock(&self.output)
            .lines
            .iter()
            .filter(|l| l.seq >= from)
            .cloned()
            .collect()
    }

    /// The newest kept line for which `parse` returns `Some`, parsed.
    pub fn latest<T>(&self, mut parse: impl FnMut(&Line) -> Option<T>) -> Option<T> {
        lock(&self.output).lines.iter().rev().find_map(&mut parse)
    }

    /// The last `n` kept lines, one per line, for failure messages.
    pub fn tail(&self, n: usize) -> String {
        let out = lock(&self.output);
        let skip = out.lines.len().saturating_sub(n);
        out.lines
            .iter()
            .skip(skip)
            .map(|l| format!("[{}] {}\n", self.name, l.text))
            .collect()
    }

    /// Waits until a line with `seq >= from` makes `parse` return `Some`. Fails when the
    /// deadline passes or the process exits first; either error carries the output tail.
    pub async fn wait_for_line<T>(
        &mut self,
        from: u64,
        timeout: Duration,
        mut parse: impl FnMut(&Line) -> Option<T>,
    ) -> Result<T, HarnessError> {
        let start = tokio::time::Instant::now();
        let mut next = from;
        loop {
            for line in self.lines_from(next) {
                next = line.seq + 1;
                if let Some(v) = parse(&line) {
                    return Ok(v);
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the readers drain what the child wrote before it went.
                for r in &mut self.readers {
                    let _ = tokio::time::timeout(Duration::from_secs(1), r).await;
                }
                if let Some(v) = self.lines_from(next).iter().find_map(&mut parse) {
                    return Ok(v);
                }
                return Err(HarnessError::Exited {
                    name: self.name.clone(),
                    status: status.to_string(),
                    output: self.tail(40),
                });
            }
            if start.elapsed() >= timeout {
                return Err(HarnessError::NoLine {
                    name: self.name.clone(),
                    waited: start.elapsed(),
                    output: self.tail(40),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to end by itself (after a signal it handles, say) for at most
    /// `timeout`; its exit status, or `TimedOut` with the process still running.
    pub async fn wait_exit(
        &mut self,
        timeout: Duration,
    ) -> Result<std::process::ExitStatus, HarnessError> {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => Err(HarnessError::TimedOut { waited: timeout }),
        }
    }

    /// SIGKILL (no chance to clean up, like a crash or a pulled plug), then reaps it.
    pub async fn kill(&mut self) -> Result<(), HarnessError> {
        self.child.kill().await?;
        Ok(())
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        for r in &self.readers {
            r.abort();
        }
    }
}

async fn read_lines<R: AsyncRead + Unpin>(r: R, stream: Stream, output: Arc<Mutex<Output>>) {
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(text)) = lines.next_line().await {
        let mut out = lock(&output);
        let seq = out.next_seq;
        out.next_seq += 1;
        if out.lines.len() >= OUTPUT_LINES {
            out.lines.pop_front();
        }
        out.lines.push_back(Line {
            seq,
            stream,
            text: strip_ansi(&text),
        });
    }
}

/// Removes ANSI escape sequences (colours of log lines), so tests can parse them.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters... final byte in '@'..='~'.
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The value of `name=<value>` in a structured log line (`tracing`'s text format), if any.
pub fn log_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c").arg(script);
        c
    }

    #[tokio::test]
    async fn waits_for_a_line_and_reports_exit_and_deadline() {
        let mut p = ChildProcess::spawn(
            "echoer",
            sh("echo hello >&2; echo 'ready port=42'; sleep 30"),
        )
        .unwrap();
        let port = p
            .wait_for_line(0, Duration::from_secs(10), |l| {
                log_field(&l.text, "port").map(str::to_owned)
            })
            .await
            .unwrap();
        assert_eq!(port, "42");
        let err = p
            .wait_for_line(p.mark(), Duration::from_millis(50), |_| Some(()))
            .await;
        assert!(matches!(err, Err(HarnessError::NoLine { .. })), "{err:?}");
        assert!(p.tail(10).contains("hello"));
        p.kill().await.unwrap();
        assert!(!p.is_running());

        let mut q = ChildProcess::spawn("quitter", sh("echo bye; exit 3")).unwrap();
        let err = q
            .wait_for_line(0, Duration::from_secs(10), |l| {
                (l.text == "never").then_some(())
            })
            .await;
        match err {
            Err(HarnessError::Exited { output, .. }) => assert!(output.contains("bye")),
            other => panic!("expected an exit error, got {other:?}"),
        }
    }

    #[test]
    fn strips_colours_and_reads_fields() {
        let line = "\u{1b}[2m2026\u{1b}[0m DEBUG gossip round done \u{1b}[3mround\u{1b}[0m\u{1b}[2m=\u{1b}[0m7 peers=3";
        let plain = strip_ansi(line);
        assert_eq!(log_field(&plain, "round"), Some("7"));
        assert_eq!(log_field(&plain, "peers"), Some("3"));
        assert_eq!(log_field(&plain, "synapses"), None);
    }
}
