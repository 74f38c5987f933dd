//! Exit codes: distinct per kind of failure so scripts can tell them apart. Documented in the
//! README and in `docs/cli.md`.

/// Success.
pub const OK: u8 = 0;
/// Anything not classified below.
pub const FAILURE: u8 = 1;
/// Bad command line, configuration file or setting (clap itself also uses 2).
pub const USAGE: u8 = 2;
/// A port could not be bound (in use or not permitted): change the named flag.
pub const PORT_IN_USE: u8 = 3;
/// A key file is missing, unreadable or malformed, or its password is wrong or not given.
pub const KEY: u8 = 4;
/// A peer, metagraph or chain could not be reached or answered with an error.
pub const UNREACHABLE: u8 = 5;
/// A data set or checkpoint could not be read.
pub const DATA: u8 = 6;
/// The neuron key is held by another running neuron (one key, one neuron); nothing was written.
pub const KEY_IN_USE: u8 = 7;
/// Stopped by Ctrl-C after a clean shutdown.
pub const INTERRUPTED: u8 = 130;

/// The error kinds a command reports; `main` maps them to exit codes.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    PortInUse(String),
    #[error("{0}")]
    Key(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    Data(String),
    #[error("{0}")]
    KeyInUse(String),
}

/// A chain error as one line with its causes (the endpoint, then what the node said).
pub fn chain_error_text(e: &bt_interfaces::ChainError) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        // A cause already spelled out by its wrapper (a dispatch error's name) is not repeated.
        let line = c.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        cause = c.source();
    }
    text
}

/// A chain error as the CLI reports it: an unreachable or slow node, or one whose answer we
/// cannot read, exits with UNREACHABLE; wrong input with USAGE; a refused transaction with
/// FAILURE.
pub fn chain_error(e: bt_interfaces::ChainError) -> anyhow::Error {
    use bt_interfaces::ChainError as E;
    let text = chain_error_text(&e);
    match e {
        E::Unavailable { .. } | E::Timeout { .. } | E::Invalid { .. } => {
            CliError::Unreachable(text).into()
        }
        E::NoSubnet(_) | E::NotRegistered { .. } | E::Unsupported { .. } => {
            CliError::Usage(text).into()
        }
        E::Rejected { .. } => anyhow::anyhow!(text),
    }
}

/// The exit code for an error chain: the first classified error in it wins.
pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<CliError>() {
            return match e {
                CliError::Usage(_) => USAGE,
                CliError::PortInUse(_) => PORT_IN_USE,
                CliError::Key(_) => KEY,
                CliError::Unreachable(_) => UNREACHABLE,
                CliError::Data(_) => DATA,
                CliError::KeyInUse(_) => KEY_IN_USE,
            };
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::AddrInUse
        {
            return PORT_IN_USE;
        }
    }
    FAILURE
}

/// A neuron's error as the exit-code class a script can act on.
pub(crate) fn classify_neuron_error(e: bt_neuron::NeuronError) -> anyhow::Error {
    use bt_neuron::NeuronError as E;
    use bt_neuron::subnet::SubnetError as S;
    let text = error_chain(&e);
    match e {
        E::Bind { .. } => CliError::PortInUse(text).into(),
        E::KeyInUse { .. } | E::NoFreeKey { .. } => CliError::KeyInUse(text).into(),
        E::Key(_) | E::KeyLock { .. } => CliError::Key(text).into(),
        E::Data { .. } | E::Checkpoint { .. } => CliError::Data(text).into(),
        E::Subnet(s) => match *s {
            S::Axon(bt_axon::AxonError::Bind { .. } | bt_axon::AxonError::MetricsBind { .. }) => {
                CliError::PortInUse(text).into()
            }
            S::Config(_) | S::NoSubnet { .. } => CliError::Usage(text).into(),
            S::NotRegistered { .. } => CliError::Key(text).into(),
            S::Data(_) => CliError::Data(text).into(),
            S::Chain { .. } | S::ChainTimeout { .. } | S::Dendrite(_) | S::Axon(_) => {
                CliError::Unreachable(text).into()
            }
        },
        E::Config(_) => CliError::Usage(text).into(),
        other => anyhow::Error::new(other),
    }
}

/// A `chain start` error, naming the flag to change: a port or database that cannot be opened
/// is a port error; a zero block time or tempo is reported as the flag's value; a database of
/// an older layout is a usage error (choose another --db).
pub(crate) fn classify_chain_start_error(e: bt_chain::ChainError) -> anyhow::Error {
    use bt_chain::ChainError as E;
    match e {
        E::Io { .. } => CliError::PortInUse(format!("{e} (change --port or --db)")).into(),
        E::OldDatabaseFormat { .. } => CliError::Usage(e.to_string()).into(),
        E::ZeroBlockInterval => anyhow::anyhow!(
            "hyperparameter --block_time = 0 rejected: must be positive; use --instant for \
             blocks on demand"
        ),
        E::InvalidHyperparam { key, value, reason } if key == "tempo" => {
            anyhow::anyhow!("hyperparameter --tempo = {value} rejected: {reason}")
        }
        other => anyhow::Error::new(other),
    }
}

/// A wallet error as the `wallet` and key-loading commands print it. The `io (…)` prefix is the
/// wording these messages have always had, kept so that scripts matching them still do.
pub(crate) fn wallet_error_text(e: &bt_crypto::CryptoError) -> String {
    match e {
        bt_crypto::CryptoError::WalletDir { path, source } => {
            format!("io (wallet list): {}: {source}", path.display())
        }
        other => format!("io (wallet): {other}"),
    }
}

/// An error and its sources, as one line: the exit-code classes carry text, so the causes
/// must be in it.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classified_errors_map_to_their_codes_through_context() {
        let err = anyhow::Error::new(CliError::Key("bad".into())).context("loading");
        assert_eq!(code_for(&err), KEY);
        let err = anyhow::Error::new(CliError::KeyInUse("held".into()));
        assert_eq!(code_for(&err), KEY_IN_USE);
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "busy");
        assert_eq!(code_for(&anyhow::Error::new(io)), PORT_IN_USE);
        assert_eq!(code_for(&anyhow::anyhow!("other")), FAILURE);
    }

    #[test]
    fn chain_start_errors_name_the_flag_to_change() {
        use bt_chain::ChainError as E;
        let io = classify_chain_start_error(E::Io {
            op: "bind",
            reason: "in use".into(),
        });
        assert_eq!(code_for(&io), PORT_IN_USE);
        assert!(io.to_string().ends_with("(change --port or --db)"), "{io}");
        let zero = classify_chain_start_error(E::ZeroBlockInterval);
        assert!(
            zero.to_string().contains("--block_time") && zero.to_string().contains("--instant")
        );
        let tempo = classify_chain_start_error(E::InvalidHyperparam {
            key: "tempo".into(),
            value: 0,
            reason: "must be at least 1".into(),
        });
        assert_eq!(
            tempo.to_string(),
            "hyperparameter --tempo = 0 rejected: must be at least 1"
        );
        assert_eq!(code_for(&tempo), FAILURE);
    }
}
