//! The limits of the servers a command starts, as flags: the gRPC axon's (`--axon_*`), the HTTP
//! axon's (`--http_*`) and the metagraph's (`--metagraph_*`). Each flag is optional: absent, the
//! library's default holds (the help text reads it from the library's `Default`, so the two
//! cannot disagree). A value outside a flag's range is a usage error naming the flag; settings
//! that only fail together (a per-address budget above the total) are caught by the library's
//! own check, reported with the flag's name. A `--config` file may give each cap under the
//! flag's name (`axon_max_in_flight = 64`); a flag wins over the file.

use std::fmt::Display;
use std::time::Duration;

use anyhow::{Result, bail};
use bt_axon::AxonConfig;
use bt_axon::http::HttpAxonConfig;
use bt_metagraph::MetagraphConfig;

/// Largest count any of these flags takes: beyond it a table or queue would need more memory
/// than a neuron has, so a larger value is a typo, not a setting.
const MAX_COUNT: u64 = 1 << 24;
/// Largest byte budget: 64 GiB.
const MAX_BYTES: u64 = 64 << 30;
/// Longest interval or skew any of these flags takes, in milliseconds: one hour.
const MAX_MS: u64 = 3_600_000;
/// Longest lifetime any of these flags takes, in seconds: one day.
const MAX_SECS: u64 = 86_400;

/// A flag's value as the library holds it (`$into`), or the library's value as the flag shows it
/// (`$from`); without a converter the two are the same type.
macro_rules! convert {
    ($v:expr) => {
        $v
    };
    ($v:expr, $conv:path) => {
        $conv($v)
    };
}

/// A `Duration` as a seconds flag shows it.
fn whole_secs(d: Duration) -> u64 {
    d.as_secs()
}

/// The help line of a cap: its description, the library's default and the accepted range.
fn help(what: &str, default: impl Display, lo: u64, hi: u64) -> String {
    format!("{what} Default {default} (the library's); accepted {lo}..={hi}.")
}

/// `value` when it lies in `lo..=hi`, else a usage error naming `flag`.
fn checked<T>(flag: &str, value: T, lo: u64, hi: u64) -> Result<T>
where
    T: Copy + Display + TryInto<u64>,
{
    match value.try_into() {
        Ok(v) if (lo..=hi).contains(&v) => Ok(value),
        _ => bail!("--{flag} must be between {lo} and {hi}, got {value}"),
    }
}

/// A `--config` file's value for `key`, as the flag of that name takes it.
fn file_value<T: serde::de::DeserializeOwned>(key: &str, value: toml::Value) -> Result<T> {
    value
        .try_into()
        .map_err(|e| anyhow::anyhow!("config file key {key} (as --{key}): {e}"))
}

/// Declares a struct of optional cap flags and `apply`, which writes the given ones into the
/// library's configuration after checking each against its range.
macro_rules! cap_flags {
    (
        $(#[$meta:meta])*
        pub struct $name:ident for $cfg:ty {
            $(
                $what:literal
                $field:ident: $ty:ty => $($path:ident).+ $([$into:path, $from:path])?,
                $flag:literal, [$($alias:literal),*], $env:literal, $lo:expr, $hi:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, clap::Args)]
        pub struct $name {
            $(
                // The flag names the argument: the field names repeat across the structs.
                #[arg(
                    id = $flag,
                    long = $flag,
                    aliases = [$($alias),*],
                    env = $env,
                    help = help(
                        $what,
                        convert!(<$cfg>::default().$($path).+ $(, $from)?),
                        $lo,
                        $hi
                    )
                )]
                pub $field: Option<$ty>,
            )*
        }

        impl $name {
            /// Writes the flags given into `cfg`, each checked against its range.
            pub fn apply(&self, cfg: &mut $cfg) -> Result<()> {
                $(
                    if let Some(v) = self.$field {
                        cfg.$($path).+ = convert!(checked($flag, v, $lo, $hi)? $(, $into)?);
                    }
                )*
                Ok(())
            }

            /// The caps a `--config` file gives, under the flags' names: each key is taken
            /// out of `table` (what is left is the file's other settings). A value of the
            /// wrong type is an error naming its key; ranges are checked by `apply`.
            pub fn take_from_file(table: &mut toml::Table) -> Result<Self> {
                let mut caps = Self::default();
                $(
                    if let Some(v) = table.remove($flag) {
                        caps.$field = Some(file_value($flag, v)?);
                    }
                )*
                Ok(caps)
            }

            /// These flags, with `file`'s value for each flag not given.
            pub fn or_file(&self, file: &Self) -> Self {
                Self {
                    $( $field: self.$field.or(file.$field), )*
                }
            }
        }
    };
}

cap_flags! {
    /// The gRPC axon's caps (`bt_axon::AxonConfig`; `docs/security.md` says what each bounds).
    pub struct AxonCaps for AxonConfig {
        "Requests served at once over all connections (counted once a request's message is in)."
        max_in_flight: usize => max_in_flight,
        "axon_max_in_flight", ["axon-max-in-flight", "axon.max_in_flight"],
        "BT_AXON_MAX_IN_FLIGHT", 1, MAX_COUNT;
        "Requests open at once from one source address, from headers to answer."
        max_requests_per_ip: usize => max_requests_per_ip,
        "axon_max_requests_per_ip", ["axon-max-requests-per-ip", "axon.max_requests_per_ip"],
        "BT_AXON_MAX_REQUESTS_PER_IP", 1, MAX_COUNT;
        "Requests handled at once on one connection."
        max_in_flight_per_connection: usize => max_in_flight_per_connection,
        "axon_max_in_flight_per_connection",
        ["axon-max-in-flight-per-connection", "axon.max_in_flight_per_connection"],
        "BT_AXON_MAX_IN_FLIGHT_PER_CONNECTION", 1, MAX_COUNT;
        "Bytes of request bodies held at once over all connections."
        max_buffered_bytes: usize => max_buffered_bytes,
        "axon_max_buffered_bytes", ["axon-max-buffered-bytes", "axon.max_buffered_bytes"],
        "BT_AXON_MAX_BUFFERED_BYTES", 1024, MAX_BYTES;
        "Bytes of request bodies held at once from one source address (at least the largest \
         message, 64 MiB)."
        max_buffered_bytes_per_ip: usize => max_buffered_bytes_per_ip,
        "axon_max_buffered_bytes_per_ip",
        ["axon-max-buffered-bytes-per-ip", "axon.max_buffered_bytes_per_ip"],
        "BT_AXON_MAX_BUFFERED_BYTES_PER_IP", 1024, MAX_BYTES;
        "Open TCP connections at once."
        max_connections: usize => max_connections,
        "axon_max_connections", ["axon-max-connections", "axon.max_connections"],
        "BT_AXON_MAX_CONNECTIONS", 1, MAX_COUNT;
        "Open TCP connections at once from one source address."
        max_connections_per_ip: usize => max_connections_per_ip,
        "axon_max_connections_per_ip",
        ["axon-max-connections-per-ip", "axon.max_connections_per_ip"],
        "BT_AXON_MAX_CONNECTIONS_PER_IP", 1, MAX_COUNT;
        "Longest string or signature field of a request, in bytes, checked before decoding."
        max_field_bytes: usize => max_field_bytes,
        "axon_max_field_bytes", ["axon-max-field-bytes", "axon.max_field_bytes"],
        "BT_AXON_MAX_FIELD_BYTES", 128, 1 << 20;
        "Most signatures one batch verification checks."
        max_verify_batch: usize => max_verify_batch,
        "axon_max_verify_batch", ["axon-max-verify-batch", "axon.max_verify_batch"],
        "BT_AXON_MAX_VERIFY_BATCH", 1, 4096;
        "Callers whose nonces are remembered (the nonce table)."
        max_callers: usize => max_callers,
        "axon_max_callers", ["axon-max-callers", "axon.max_callers"],
        "BT_AXON_MAX_CALLERS", 1, MAX_COUNT;
        "Callers with live nonces from one source address."
        max_callers_per_ip: usize => max_callers_per_ip,
        "axon_max_callers_per_ip", ["axon-max-callers-per-ip", "axon.max_callers_per_ip"],
        "BT_AXON_MAX_CALLERS_PER_IP", 1, MAX_COUNT;
        "Recent nonces remembered per caller (reordering tolerated)."
        nonce_reorder_window: usize => nonce_reorder_window,
        "axon_nonce_reorder_window", ["axon-nonce-reorder-window", "axon.nonce_reorder_window"],
        "BT_AXON_NONCE_REORDER_WINDOW", 0, 65_536;
        "Sessions remembered at once (the handshake table)."
        max_sessions: usize => max_sessions,
        "axon_max_sessions", ["axon-max-sessions", "axon.max_sessions"],
        "BT_AXON_MAX_SESSIONS", 1, MAX_COUNT;
        "Sessions opened from one source address at once."
        max_sessions_per_ip: usize => max_sessions_per_ip,
        "axon_max_sessions_per_ip", ["axon-max-sessions-per-ip", "axon.max_sessions_per_ip"],
        "BT_AXON_MAX_SESSIONS_PER_IP", 1, MAX_COUNT;
        "Sessions of one caller key at once."
        max_sessions_per_caller: usize => max_sessions_per_caller,
        "axon_max_sessions_per_caller",
        ["axon-max-sessions-per-caller", "axon.max_sessions_per_caller"],
        "BT_AXON_MAX_SESSIONS_PER_CALLER", 1, 4096;
    }
}

cap_flags! {
    /// The HTTP (Synapse) axon's caps (`bt_axon::http::HttpAxonConfig`).
    pub struct HttpCaps for HttpAxonConfig {
        "btauth/1 bodies held at once before their signature is checked, in bytes."
        max_unverified_body_bytes: usize => max_unverified_body_bytes,
        "http_max_unverified_body_bytes", ["http-max-unverified-body-bytes"],
        "BT_HTTP_MAX_UNVERIFIED_BODY_BYTES", 1024, MAX_BYTES;
        "The same budget for one source address, in bytes."
        max_unverified_body_bytes_per_ip: usize => max_unverified_body_bytes_per_ip,
        "http_max_unverified_body_bytes_per_ip", ["http-max-unverified-body-bytes-per-ip"],
        "BT_HTTP_MAX_UNVERIFIED_BODY_BYTES_PER_IP", 1024, MAX_BYTES;
        "Requests admitted at once."
        max_in_flight: usize => max_in_flight,
        "http_max_in_flight", ["http-max-in-flight"], "BT_HTTP_MAX_IN_FLIGHT", 1, MAX_COUNT;
        "Requests in flight at once from one source address."
        max_in_flight_per_ip: usize => max_in_flight_per_ip,
        "http_max_in_flight_per_ip", ["http-max-in-flight-per-ip"],
        "BT_HTTP_MAX_IN_FLIGHT_PER_IP", 1, MAX_COUNT;
        "Requests in flight at once from one verified hotkey."
        max_in_flight_per_hotkey: usize => max_in_flight_per_hotkey,
        "http_max_in_flight_per_hotkey", ["http-max-in-flight-per-hotkey"],
        "BT_HTTP_MAX_IN_FLIGHT_PER_HOTKEY", 1, MAX_COUNT;
        "Longest priority queue of admitted requests."
        max_queue: usize => max_queue,
        "http_max_queue", ["http-max-queue"], "BT_HTTP_MAX_QUEUE", 1, MAX_COUNT;
        "Open connections at once."
        max_connections: usize => max_connections,
        "http_max_connections", ["http-max-connections"], "BT_HTTP_MAX_CONNECTIONS", 1,
        MAX_COUNT;
        "Nonces remembered at once over all callers (the replay store)."
        max_nonces: usize => max_nonces,
        "http_max_nonces", ["http-max-nonces"], "BT_HTTP_MAX_NONCES", 1, MAX_COUNT;
        "Nonces remembered at once for one hotkey."
        max_nonces_per_hotkey: usize => max_nonces_per_hotkey,
        "http_max_nonces_per_hotkey", ["http-max-nonces-per-hotkey"],
        "BT_HTTP_MAX_NONCES_PER_HOTKEY", 1, MAX_COUNT;
        "Most SDK v10 signatures one batch verification checks."
        max_verify_batch: usize => max_verify_batch,
        "http_max_verify_batch", ["http-max-verify-batch"], "BT_HTTP_MAX_VERIFY_BATCH", 1,
        4096;
        "Callers' hotkeys kept decompressed for verification."
        max_cached_keys: usize => max_cached_keys,
        "http_max_cached_keys", ["http-max-cached-keys"], "BT_HTTP_MAX_CACHED_KEYS", 1,
        MAX_COUNT;
        "Sessions with our dendrites at once (handshakes not yet used are dropped first)."
        max_sessions: usize => sessions.max_sessions,
        "http_max_sessions", ["http-max-sessions"], "BT_HTTP_MAX_SESSIONS", 1, MAX_COUNT;
        "Sessions opened from one source address at once."
        max_sessions_per_ip: usize => sessions.max_sessions_per_ip,
        "http_max_sessions_per_ip", ["http-max-sessions-per-ip"],
        "BT_HTTP_MAX_SESSIONS_PER_IP", 1, MAX_COUNT;
        "Sessions of one hotkey at once (its oldest is dropped beyond it)."
        max_sessions_per_hotkey: usize => sessions.max_sessions_per_hotkey,
        "http_max_sessions_per_hotkey", ["http-max-sessions-per-hotkey"],
        "BT_HTTP_MAX_SESSIONS_PER_HOTKEY", 1, 4096;
        "Seconds a session may go unused before it is dropped (its caller's next request is \
         refused once and retried signed)."
        session_idle_ttl_secs: u64 => sessions.idle_ttl [Duration::from_secs, whole_secs],
        "http_session_idle_ttl_secs", ["http-session-idle-ttl-secs"],
        "BT_HTTP_SESSION_IDLE_TTL_SECS", 1, MAX_SECS;
        "Seconds after which a session is dropped however busy (its caller then opens a new one)."
        session_max_age_secs: u64 => sessions.max_age [Duration::from_secs, whole_secs],
        "http_session_max_age_secs", ["http-session-max-age-secs"],
        "BT_HTTP_SESSION_MAX_AGE_SECS", 1, MAX_SECS;
    }
}

cap_flags! {
    /// The gossip metagraph's caps (`bt_metagraph::MetagraphConfig`; the table's size is
    /// `--metagraph_size`).
    pub struct MetagraphCaps for MetagraphConfig {
        "Most definitions one neuron key may hold in the table."
        max_synapses_per_neuron: usize => table.max_synapses_per_neuron,
        "metagraph_max_synapses_per_neuron", ["metagraph-max-synapses-per-neuron"],
        "BT_METAGRAPH_MAX_SYNAPSES_PER_NEURON", 1, 4096;
        "How far ahead of our clock a heartbeat may be, in milliseconds."
        max_future_skew_ms: u64 => table.max_future_skew_ms,
        "metagraph_max_future_skew_ms", ["metagraph-max-future-skew-ms"],
        "BT_METAGRAPH_MAX_FUTURE_SKEW_MS", 100, MAX_MS;
        "Most metagraph peers kept."
        max_peers: usize => table.max_peers,
        "metagraph_max_peers", ["metagraph-max-peers"], "BT_METAGRAPH_MAX_PEERS", 1, MAX_COUNT;
        "Definitions read from one gossip batch (the rest are skipped unread)."
        max_batch_synapses: usize => table.max_batch_synapses,
        "metagraph_max_batch_synapses", ["metagraph-max-batch-synapses"],
        "BT_METAGRAPH_MAX_BATCH_SYNAPSES", 1, MAX_COUNT;
        "Peer addresses read from one gossip batch."
        max_batch_peers: usize => table.max_batch_peers,
        "metagraph_max_batch_peers", ["metagraph-max-batch-peers"],
        "BT_METAGRAPH_MAX_BATCH_PEERS", 1, MAX_COUNT;
        "Incoming gossip calls verified at once."
        max_concurrent_sinks: usize => max_concurrent_sinks,
        "metagraph_max_concurrent_sinks", ["metagraph-max-concurrent-sinks"],
        "BT_METAGRAPH_MAX_CONCURRENT_SINKS", 1, 4096;
        "Most definitions in the answer to an inspection (an empty batch)."
        inspect_sample: usize => inspect_sample,
        "metagraph_inspect_sample", ["metagraph-inspect-sample"],
        "BT_METAGRAPH_INSPECT_SAMPLE", 1, MAX_COUNT;
        "Source addresses the inspection throttle remembers."
        max_inspect_clients: usize => max_inspect_clients,
        "metagraph_max_inspect_clients", ["metagraph-max-inspect-clients"],
        "BT_METAGRAPH_MAX_INSPECT_CLIENTS", 1, MAX_COUNT;
    }
}

/// `--metagraph_inspect_interval_ms`, apart from the macro's flags because the library holds a
/// `Duration`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct InspectInterval {
    #[arg(
        long = "metagraph_inspect_interval_ms",
        aliases = ["metagraph-inspect-interval-ms"],
        env = "BT_METAGRAPH_INSPECT_INTERVAL_MS",
        help = help(
            "One inspection per source address per this many milliseconds.",
            MetagraphConfig::default().inspect_interval.as_millis(),
            1,
            MAX_MS,
        )
    )]
    pub inspect_interval_ms: Option<u64>,
}

impl InspectInterval {
    const KEY: &str = "metagraph_inspect_interval_ms";

    pub fn apply(&self, cfg: &mut MetagraphConfig) -> Result<()> {
        if let Some(ms) = self.inspect_interval_ms {
            let ms = checked(Self::KEY, ms, 1, MAX_MS)?;
            cfg.inspect_interval = Duration::from_millis(ms);
        }
        Ok(())
    }
}

impl InspectInterval {
    fn take_from_file(table: &mut toml::Table) -> Result<Self> {
        Ok(Self {
            inspect_interval_ms: match table.remove(Self::KEY) {
                Some(v) => Some(file_value(Self::KEY, v)?),
                None => None,
            },
        })
    }
}

/// `--axon_require_digest_v2`, apart from the macro's flags because it is a switch.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AxonSwitches {
    /// Refuse requests signed over the v1 request digest, which does not bind the axon dialled
    /// (UNAUTHENTICATED): a request meant for another axon serving the same synapse key cannot
    /// then be replayed here. Release 1 peers sign v1 only; this project's dendrites sign v2
    /// with axons that accept it. Off by default (v1 accepted).
    #[arg(
        long = "axon_require_digest_v2",
        aliases = ["axon-require-digest-v2", "axon.require_digest_v2"],
        env = "BT_AXON_REQUIRE_DIGEST_V2"
    )]
    pub require_digest_v2: bool,
}

impl AxonSwitches {
    const KEY: &str = "axon_require_digest_v2";

    fn take_from_file(table: &mut toml::Table) -> Result<Self> {
        Ok(Self {
            require_digest_v2: match table.remove(Self::KEY) {
                Some(v) => file_value(Self::KEY, v)?,
                None => false,
            },
        })
    }
}

/// Every server cap a neuron takes, flattened into `bittensor neuron`'s flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerCaps {
    #[command(flatten)]
    pub axon: AxonCaps,
    #[command(flatten)]
    pub axon_switches: AxonSwitches,
    #[command(flatten)]
    pub http: HttpCaps,
    #[command(flatten)]
    pub metagraph: MetagraphCaps,
    #[command(flatten)]
    pub inspect_interval: InspectInterval,
}

impl ServerCaps {
    /// The caps of a `--config` file, under the flags' names (`axon_max_in_flight = 64`), taken
    /// out of `table`.
    pub fn take_from_file(table: &mut toml::Table) -> Result<Self> {
        Ok(Self {
            axon: AxonCaps::take_from_file(table)?,
            axon_switches: AxonSwitches::take_from_file(table)?,
            http: HttpCaps::take_from_file(table)?,
            metagraph: MetagraphCaps::take_from_file(table)?,
            inspect_interval: InspectInterval::take_from_file(table)?,
        })
    }

    /// The flags given, else the file's: a flag wins over the file, the file over the default.
    pub fn or_file(&self, file: &Self) -> Self {
        Self {
            axon: self.axon.or_file(&file.axon),
            axon_switches: AxonSwitches {
                require_digest_v2: self.axon_switches.require_digest_v2
                    || file.axon_switches.require_digest_v2,
            },
            http: self.http.or_file(&file.http),
            metagraph: self.metagraph.or_file(&file.metagraph),
            inspect_interval: InspectInterval {
                inspect_interval_ms: self
                    .inspect_interval
                    .inspect_interval_ms
                    .or(file.inspect_interval.inspect_interval_ms),
            },
        }
    }
}

/// The axon's configuration: the library's defaults with the flags given, checked together the
/// way the axon will check them at start, the error naming the flag.
pub fn axon_config(caps: &ServerCaps, max_tensors: usize) -> Result<AxonConfig> {
    let mut cfg = AxonConfig {
        max_tensors,
        require_digest_v2: caps.axon_switches.require_digest_v2,
        ..AxonConfig::default()
    };
    caps.axon.apply(&mut cfg)?;
    if let Err(bt_axon::AxonError::Config { field, reason }) = cfg.validate() {
        bail!("--axon_{field}: {reason}");
    }
    Ok(cfg)
}

/// The HTTP axon's configuration: the library's defaults with the flags given, checked.
pub fn http_config(caps: &HttpCaps, base: HttpAxonConfig) -> Result<HttpAxonConfig> {
    let mut cfg = base;
    caps.apply(&mut cfg)?;
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("--http_* flags: {e}"))?;
    Ok(cfg)
}

/// The metagraph's limits: the library's defaults with the flags given.
pub fn metagraph_config(caps: &ServerCaps) -> Result<MetagraphConfig> {
    let mut cfg = MetagraphConfig::default();
    caps.metagraph.apply(&mut cfg)?;
    caps.inspect_interval.apply(&mut cfg)?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cmd {
        #[command(flatten)]
        caps: ServerCaps,
    }

    fn parse(args: &[&str]) -> ServerCaps {
        Cmd::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
            .caps
    }

    #[test]
    fn absent_flags_leave_the_library_defaults() {
        let caps = parse(&[]);
        let axon = axon_config(&caps, AxonConfig::default().max_tensors).unwrap();
        let d = AxonConfig::default();
        assert!(!axon.require_digest_v2 && !d.require_digest_v2);
        assert_eq!(
            (
                axon.max_in_flight,
                axon.max_callers,
                axon.max_buffered_bytes
            ),
            (d.max_in_flight, d.max_callers, d.max_buffered_bytes)
        );
        let m = metagraph_config(&caps).unwrap();
        let md = MetagraphConfig::default();
        assert_eq!(
            (m.table.max_synapses_per_neuron, m.inspect_interval),
            (md.table.max_synapses_per_neuron, md.inspect_interval)
        );
    }

    #[test]
    fn each_spelling_reaches_its_field() {
        let caps = parse(&[
            "--axon_max_requests_per_ip",
            "3",
            "--axon.max_callers_per_ip",
            "5",
            "--axon-max-sessions",
            "7",
            "--http_max_cached_keys",
            "9",
            "--http_max_sessions_per_hotkey",
            "2",
            "--http-session-idle-ttl-secs",
            "30",
            "--http_session_max_age_secs",
            "600",
            "--metagraph_max_synapses_per_neuron",
            "1",
            "--metagraph_max_future_skew_ms",
            "100",
            "--metagraph_inspect_interval_ms",
            "1500",
            "--axon.require_digest_v2",
        ]);
        let axon = axon_config(&caps, 256).unwrap();
        assert!(axon.require_digest_v2);
        assert_eq!(
            (
                axon.max_requests_per_ip,
                axon.max_callers_per_ip,
                axon.max_sessions
            ),
            (3, 5, 7)
        );
        let http = http_config(&caps.http, HttpAxonConfig::default()).unwrap();
        assert_eq!(http.max_cached_keys, 9);
        assert_eq!(http.sessions.max_sessions_per_hotkey, 2);
        assert_eq!(
            (http.sessions.idle_ttl, http.sessions.max_age),
            (Duration::from_secs(30), Duration::from_secs(600))
        );
        let m = metagraph_config(&caps).unwrap();
        assert_eq!(m.table.max_synapses_per_neuron, 1);
        assert_eq!(m.table.max_future_skew_ms, 100);
        assert_eq!(m.inspect_interval, Duration::from_millis(1500));
    }

    #[test]
    fn zero_and_absurd_values_are_refused_naming_the_flag() {
        for (flag, value) in [
            ("--axon_max_in_flight", "0"),
            ("--axon_max_callers", "100000000000"),
            ("--axon_max_buffered_bytes", "10"),
            ("--http_max_verify_batch", "0"),
            ("--http_max_sessions", "0"),
            ("--http_session_idle_ttl_secs", "0"),
            ("--http_session_max_age_secs", "86401"),
            ("--metagraph_max_synapses_per_neuron", "0"),
            ("--metagraph_max_future_skew_ms", "86400000"),
            ("--metagraph_max_future_skew_ms", "0"),
            ("--metagraph_inspect_interval_ms", "0"),
        ] {
            let caps = parse(&[flag, value]);
            let err = axon_config(&caps, 256)
                .and_then(|_| http_config(&caps.http, HttpAxonConfig::default()))
                .and_then(|_| metagraph_config(&caps))
                .unwrap_err()
                .to_string();
            assert!(err.contains(&flag[2..]), "{flag} {value}: {err}");
        }
    }

    #[test]
    fn caps_that_only_fail_together_are_named_too() {
        // A per-address budget below the largest message could never admit one.
        let caps = parse(&["--axon_max_buffered_bytes_per_ip", "4096"]);
        let err = axon_config(&caps, 256).unwrap_err().to_string();
        assert!(err.contains("--axon_max_buffered_bytes_per_ip"), "{err}");
        let caps = parse(&["--http_max_in_flight_per_ip", "0"]);
        let err = http_config(&caps.http, HttpAxonConfig::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("http_max_in_flight_per_ip"), "{err}");
    }

    #[test]
    fn help_states_the_library_default() {
        use clap::CommandFactory;
        let help = Cmd::command().render_long_help().to_string();
        let d = AxonConfig::default();
        assert!(
            help.contains(&format!("Default {} (the library's)", d.max_callers_per_ip)),
            "{help}"
        );
    }
}
