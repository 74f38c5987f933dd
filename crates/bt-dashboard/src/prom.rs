//! A bounded reader of the Prometheus text format, for what neurons answer on `/metrics`.
//!
//! The answer comes from the network, so it is untrusted: the caller caps its size before it
//! gets here, and this reader caps the samples and labels it keeps ([`PromLimits`]) and skips
//! any line it does not understand rather than fail the whole scrape.

/// How much of one scrape is kept.
#[derive(Debug, Clone, Copy)]
pub struct PromLimits {
    /// Samples kept; the rest are dropped (counted in [`Scrape::dropped`]). Default 20 000.
    pub max_samples: usize,
    /// Labels of one sample; a sample with more is skipped. Default 16.
    pub max_labels: usize,
    /// Longest line read; longer lines are skipped. Default 4 096 bytes.
    pub max_line: usize,
}

impl Default for PromLimits {
    fn default() -> Self {
        Self {
            max_samples: 20_000,
            max_labels: 16,
            max_line: 4096,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// What one scrape held.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    /// Lines skipped: malformed, too long, too many labels, or past `max_samples`.
    pub dropped: usize,
}

impl Scrape {
    /// The first sample of `name` whose labels include every pair of `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
            .map(|s| s.value)
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }
}

pub fn parse(text: &str, limits: PromLimits) -> Scrape {
    let mut out = Scrape::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.len() > limits.max_line || out.samples.len() >= limits.max_samples {
            out.dropped += 1;
            continue;
        }
        match parse_line(line, limits.max_labels) {
            Some(s) => out.samples.push(s),
            None => out.dropped += 1,
        }
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn parse_line(line: &str, max_labels: usize) -> Option<Sample> {
    let name_end = line.find(|c: char| !is_name_char(c))?;
    let name = &line[..name_end];
    if name.is_empty() {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(body, max_labels)?;
        labels = parsed;
        rest = after;
    }
    let value_text = rest.split_whitespace().next()?;
    let value = match value_text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Labels up to the closing `}`; returns them and the text after it.
fn parse_labels(mut s: &str, max_labels: usize) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start_matches([' ', ',']);
        if let Some(after) = s.strip_prefix('}') {
            return Some((labels, after));
        }
        if labels.len() >= max_labels {
            return None;
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim();
        if key.is_empty() || !key.chars().all(is_name_char) {
            return None;
        }
        let body = s[eq + 1..].strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = body.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        };
        labels.push((key.to_string(), value));
        s = &body[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_samples_labels_and_special_values() {
        let text = "# HELP x y\nbt_trainer_steps_total 30\nbt_trainer_loss{kind=\"local\"} 0.5\n\
                    bt_neuron_info{neuron_key=\"0xa\",metagraph=\"127.0.0.1:1\"} 1\n\
                    bt_x{a=\"q\\\"uote\"} NaN\nbt_y +Inf\n";
        let s = parse(text, PromLimits::default());
        assert_eq!(s.dropped, 0);
        assert_eq!(s.value("bt_trainer_steps_total", &[]), Some(30.0));
        assert_eq!(s.value("bt_trainer_loss", &[("kind", "local")]), Some(0.5));
        let info = s.all("bt_neuron_info").next().unwrap();
        assert_eq!(info.label("metagraph"), Some("127.0.0.1:1"));
        assert_eq!(s.all("bt_x").next().unwrap().label("a"), Some("q\"uote"));
        assert!(s.value("bt_x", &[]).unwrap().is_nan());
        assert_eq!(s.value("bt_y", &[]), Some(f64::INFINITY));
    }

    #[test]
    fn hostile_lines_are_skipped_and_counted_within_the_caps() {
        let limits = PromLimits {
            max_samples: 2,
            max_labels: 1,
            max_line: 40,
        };
        let long = format!("bt_a{{k=\"{}\"}} 1", "x".repeat(100));
        let text = format!(
            "bt_ok 1\n{long}\nbt_b{{a=\"1\",b=\"2\"}} 1\nbt_c{{a=\"unterminated 1\n{{}} 1\nbt_d 2\nbt_e 3\n"
        );
        let s = parse(&text, limits);
        assert_eq!(s.samples.len(), 2);
        assert_eq!(s.dropped, 5);
    }
}
