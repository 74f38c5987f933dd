//! The lines a neuron prints, and their parser.
//!
//! A neuron's stdout is for people (the seeds' `Train Epoch: …  nP|nS: p|s` lines) and for the
//! localnet supervisor, which reads the same lines to draw its live view. Keeping the writer and
//! the parser side by side is what keeps them in agreement; a round-trip test checks it.

use std::fmt;

/// Printed once, when the neuron serves: who it is and where to reach it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    pub neuron_key: String,
    pub synapse_keys: Vec<String>,
    pub axon: String,
    /// Where its peers come from: the gossip metagraph's address, or for a subnet neuron the
    /// chain's endpoint.
    pub metagraph: String,
    /// Where `GET /metrics` answers, when the neuron serves it (`--metrics_port`).
    pub metrics: Option<String>,
    /// A subnet neuron's uid.
    pub uid: Option<u16>,
}

/// The seeds' training log line.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainLine {
    pub epoch: usize,
    pub seen: usize,
    pub total: usize,
    pub local_loss: f64,
    pub network_loss: f64,
    pub distillation_loss: f64,
    pub peers: usize,
    pub synapses: usize,
}

/// Test-set evaluation after an epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct TestLine {
    pub epoch: usize,
    pub accuracy: f64,
    pub correct: usize,
    pub total: usize,
}

/// The network path's test accuracy after an epoch (printed only by a neuron with peers): the
/// test line's fields under its own marker, so a reader of the seeds' line never mistakes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkTestLine(pub TestLine);

impl fmt::Display for NetworkTestLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Network {}", self.0)
    }
}

/// Everything the supervisor understands; other lines pass through untouched.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Ready(Ready),
    Train(TrainLine),
    Test(TestLine),
    NetworkTest(NetworkTestLine),
    Checkpoint(String),
    Done,
}

const READY: &str = "Neuron ready";
const CHECKPOINT: &str = "Checkpoint saved:";
const DONE: &str = "Neuron done";

impl fmt::Display for Ready {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{READY}  neuron_key: {}  synapse_keys: {}  axon: {}  metagraph: {}",
            self.neuron_key,
            self.synapse_keys.join(","),
            self.axon,
            self.metagraph
        )?;
        if let Some(m) = &self.metrics {
            write!(f, "  metrics: {m}")?;
        }
        match self.uid {
            Some(uid) => write!(f, "  uid: {uid}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for TrainLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = if self.total == 0 {
            0.0
        } else {
            100.0 * self.seen as f64 / self.total as f64
        };
        write!(
            f,
            "Train Epoch: {} [{}/{} ({:.0}%)]\tLocal Loss: {:.6}\tNetwork Loss: {:.6}\tDistillation Loss: {:.6}\tnP|nS: {}|{}",
            self.epoch,
            self.seen,
            self.total,
            pct,
            self.local_loss,
            self.network_loss,
            self.distillation_loss,
            self.peers,
            self.synapses
        )
    }
}

impl fmt::Display for TestLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Test Epoch: {}\tAccuracy: {:.2}% ({}/{})",
            self.epoch,
            self.accuracy * 100.0,
            self.correct,
            self.total
        )
    }
}

pub fn checkpoint_line(path: &str) -> String {
    format!("{CHECKPOINT} {path}")
}

pub fn done_line() -> &'static str {
    DONE
}

/// Reads one line of a neuron's output. Log prefixes (timestamps, levels) before the message are
/// skipped, so the parser works on plain and on decorated output.
pub fn parse(line: &str) -> Option<Event> {
    if let Some(rest) = after(line, READY) {
        return parse_ready(rest).map(Event::Ready);
    }
    if let Some(rest) = after(line, "Train Epoch:") {
        return parse_train(rest).map(Event::Train);
    }
    // before the seeds' test line, whose marker this one contains
    if let Some(rest) = after(line, "Network Test Epoch:") {
        return parse_test(rest).map(|t| Event::NetworkTest(NetworkTestLine(t)));
    }
    if let Some(rest) = after(line, "Test Epoch:") {
        return parse_test(rest).map(Event::Test);
    }
    if let Some(rest) = after(line, CHECKPOINT) {
        return Some(Event::Checkpoint(rest.trim().to_string()));
    }
    if line.trim_end().ends_with(DONE) {
        return Some(Event::Done);
    }
    None
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| &line[i + marker.len()..])
}

fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(name)? + name.len();
    text[start..].split_whitespace().next()
}

fn parse_ready(rest: &str) -> Option<Ready> {
    Some(Ready {
        neuron_key: field(rest, "neuron_key:")?.to_string(),
        synapse_keys: field(rest, "synapse_keys:")?
            .split(',')
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect(),
        axon: field(rest, "axon:")?.to_string(),
        metagraph: field(rest, "metagraph:")?.to_string(),
        metrics: field(rest, "metrics:").map(str::to_string),
        uid: field(rest, "uid:").and_then(|u| u.parse().ok()),
    })
}

fn parse_train(rest: &str) -> Option<TrainLine> {
    let epoch = rest.split_whitespace().next()?.parse().ok()?;
    let bracket = &rest[rest.find('[')? + 1..rest.find(']')?];
    let (seen, total) = bracket.split_whitespace().next()?.split_once('/')?;
    let (peers, synapses) = field(rest, "nP|nS:")?.split_once('|')?;
    Some(TrainLine {
        epoch,
        seen: seen.parse().ok()?,
        total: total.parse().ok()?,
        local_loss: field(rest, "Local Loss:")?.parse().ok()?,
        network_loss: field(rest, "Network Loss:")?.parse().ok()?,
        distillation_loss: field(rest, "Distillation Loss:")?.parse().ok()?,
        peers: peers.parse().ok()?,
        synapses: synapses.parse().ok()?,
    })
}

fn parse_test(rest: &str) -> Option<TestLine> {
    let epoch = rest.split_whitespace().next()?.parse().ok()?;
    let pct: f64 = field(rest, "Accuracy:")?
        .trim_end_matches('%')
        .parse()
        .ok()?;
    let counts = &rest[rest.find('(')? + 1..rest.find(')')?];
    let (correct, total) = counts.split_once('/')?;
    Some(TestLine {
        epoch,
        accuracy: pct / 100.0,
        correct: correct.parse().ok()?,
        total: total.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_seeds_line_shape_with_a_log_prefix() {
        let line = "2020-10-06 14:22:08.616 | INFO | Train Epoch: 0 [64/60000 (0%)]\tLocal Loss: 2.299487\tNetwork Loss: 2.299433\tDistillation Loss: 0.038577\tnP|nS: 1|2";
        let Some(Event::Train(t)) = parse(line) else {
            panic!("not parsed: {line}");
        };
        assert_eq!(
            (t.epoch, t.seen, t.total, t.peers, t.synapses),
            (0, 64, 60000, 1, 2)
        );
        assert!((t.distillation_loss - 0.038577).abs() < 1e-9);
    }

    #[test]
    fn other_lines_are_not_events() {
        assert_eq!(parse("hello"), None);
        assert_eq!(parse("Train Epoch: x [garbage"), None);
    }

    #[test]
    fn ready_checkpoint_and_done_round_trip() {
        let ready = Ready {
            neuron_key: "0xab".into(),
            synapse_keys: vec!["0xcd".into(), "0xef".into()],
            axon: "127.0.0.1:1".into(),
            metagraph: "127.0.0.1:2".into(),
            metrics: None,
            uid: None,
        };
        assert_eq!(parse(&ready.to_string()), Some(Event::Ready(ready.clone())));
        let with_metrics = Ready {
            metrics: Some("127.0.0.1:3".into()),
            ..ready.clone()
        };
        assert_eq!(
            parse(&with_metrics.to_string()),
            Some(Event::Ready(with_metrics.clone()))
        );
        let on_a_subnet = Ready {
            uid: Some(3),
            ..with_metrics
        };
        assert_eq!(
            parse(&on_a_subnet.to_string()),
            Some(Event::Ready(on_a_subnet))
        );
        assert_eq!(
            parse(&checkpoint_line("/tmp/m.safetensors")),
            Some(Event::Checkpoint("/tmp/m.safetensors".into()))
        );
        assert_eq!(parse(done_line()), Some(Event::Done));
    }

    proptest! {
        #[test]
        fn train_and_test_lines_round_trip(
            epoch in 0usize..1000, seen in 0usize..100_000, total in 1usize..100_000,
            l in 0.0f64..100.0, n in 0.0f64..100.0, d in 0.0f64..100.0,
            peers in 0usize..1000, synapses in 0usize..1000, correct in 0usize..10_000,
        ) {
            let line = TrainLine { epoch, seen, total, local_loss: l, network_loss: n,
                distillation_loss: d, peers, synapses };
            let Some(Event::Train(back)) = parse(&line.to_string()) else { panic!("unparsed") };
            prop_assert_eq!((back.epoch, back.seen, back.total, back.peers, back.synapses),
                (epoch, seen, total, peers, synapses));
            prop_assert!((back.local_loss - l).abs() < 1e-6);
            let test = TestLine { epoch, accuracy: correct as f64 / 10_000.0, correct, total: 10_000 };
            let Some(Event::Test(back)) = parse(&test.to_string()) else { panic!("unparsed") };
            prop_assert_eq!((back.epoch, back.correct, back.total), (epoch, correct, 10_000));
            prop_assert!((back.accuracy - test.accuracy).abs() < 1e-4);
            // The network path's line is its own event, never the seeds' test line.
            let net = NetworkTestLine(test.clone());
            let Some(Event::NetworkTest(back)) = parse(&net.to_string()) else { panic!("unparsed") };
            prop_assert_eq!((back.0.epoch, back.0.correct, back.0.total), (epoch, correct, 10_000));
        }
    }
}
