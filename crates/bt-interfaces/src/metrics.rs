//! The one metrics concept every component shares: a component implements [`MetricSet`]
//! (it writes its current values into an [`Exposition`]), a process gathers its components'
//! sets in one [`Registry`], and whatever serves `GET /metrics` renders the registry.
//!
//! Names follow `bt_<component>_<what>[_<unit>]`: the component (`axon`, `http_axon`,
//! `dendrite`, `metagraph`, `trainer`, `chain`, `neuron`), what is measured, and the unit in
//! Prometheus' base units (`_seconds`, `_bytes`, `_ratio`), with `_total` after a counter.
//! `docs/operate.md` (## Metrics) lists them. The text is the Prometheus exposition format
//! 0.0.4. This module does no I/O: serving is the binary's business.

use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

/// A component's metrics, rendered on demand (from atomics or a snapshot; never blocking).
pub trait MetricSet: Send + Sync {
    fn write(&self, out: &mut Exposition);
}

/// Prometheus text being built. Names must follow the scheme; label values are escaped.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

/// What a sample counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
        }
    }
}

/// Whether `name` follows the scheme: `bt_`, then lower-case letters, digits and `_`.
pub fn valid_name(name: &str) -> bool {
    name.strip_prefix("bt_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    })
}

impl Exposition {
    pub fn new() -> Self {
        Self::default()
    }

    /// `# HELP` and `# TYPE` of a family, then its samples through [`Self::sample`].
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        debug_assert!(valid_name(name), "metric name {name} breaks the bt_ scheme");
        let _ = writeln!(
            self.text,
            "# HELP {name} {help}\n# TYPE {name} {}",
            kind.as_str()
        );
    }

    /// One sample of the family last opened, with labels (`[]` for none).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.text.push_str(k);
                self.text.push_str("=\"");
                escape_into(&mut self.text, v);
                self.text.push('"');
            }
            self.text.push('}');
        }
        self.text.push(' ');
        push_value(&mut self.text, value);
        self.text.push('\n');
    }

    /// A family with one unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// Text already in the exposition format (a component that renders its own).
    pub fn raw(&mut self, text: &str) {
        self.text.push_str(text);
        if !text.is_empty() && !text.ends_with('\n') {
            self.text.push('\n');
        }
    }

    pub fn into_text(self) -> String {
        self.text
    }
}

fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The metric sets of one process. Cloning shares the list: a component registers itself
/// once, when it starts, and every scrape renders all of them in registration order.
#[derive(Clone, Default)]
pub struct Registry {
    sets: Arc<RwLock<Vec<Arc<dyn MetricSet>>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("sets", &self.len())
            .finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&self, set: Arc<dyn MetricSet>) {
        self.sets
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(set);
    }

    pub fn len(&self) -> usize {
        self.sets.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every registered set, as Prometheus text.
    pub fn render(&self) -> String {
        let sets: Vec<Arc<dyn MetricSet>> =
            self.sets.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut out = Exposition::new();
        for s in sets {
            s.write(&mut out);
        }
        out.into_text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl MetricSet for Fixed {
        fn write(&self, out: &mut Exposition) {
            out.single("bt_test_steps_total", Kind::Counter, "Steps.", 3.0);
            out.family("bt_test_loss", Kind::Gauge, "Loss.");
            out.sample("bt_test_loss", &[("kind", "lo\"cal")], 0.25);
        }
    }

    #[test]
    fn registry_renders_every_set_with_escaped_labels() {
        let r = Registry::new();
        r.register(Arc::new(Fixed));
        let text = r.render();
        assert!(text.contains("# TYPE bt_test_steps_total counter\nbt_test_steps_total 3\n"));
        assert!(text.contains("bt_test_loss{kind=\"lo\\\"cal\"} 0.25\n"));
        assert_eq!(r.clone().len(), 1);
    }

    #[test]
    fn names_follow_the_scheme() {
        assert!(valid_name("bt_trainer_loss"));
        assert!(!valid_name("trainer_loss"));
        assert!(!valid_name("bt_"));
        assert!(!valid_name("bt_Trainer"));
    }
}
