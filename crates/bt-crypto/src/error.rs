use std::path::PathBuf;

/// Everything that can go wrong in `bt-crypto`. Variants carry the file, key or value involved so
/// that an operator can act on the message without a debugger.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("key file {path} does not exist")]
    KeyFileMissing { path: PathBuf },

    /// Creating a key where a file already is: the existing file was left as it was.
    #[error("key file {path} already exists")]
    KeyFileExists { path: PathBuf },

    #[error("key file {path}: {op} failed: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("wallet directory {path} cannot be read: {source}")]
    WalletDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "key file {path} is accessible by group or others (mode {mode:03o}); \
         refusing to use it: run `chmod 600 {path}`"
    )]
    InsecurePermissions { path: PathBuf, mode: u32 },

    #[error("key file {path} is {len} bytes, larger than the {max}-byte limit for key files")]
    KeyFileTooLarge { path: PathBuf, len: u64, max: u64 },

    #[error("key file {path} is not valid JSON of the expected shape: {source}")]
    KeyFileJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("key file {path}: {reason}")]
    KeyFileInvalid { path: PathBuf, reason: String },

    /// A password-protected key this crate cannot open: Ansible Vault or the legacy Fernet
    /// format of old SDK releases, or a `$NACL` key loaded where no password can be asked for.
    /// The file is left untouched.
    #[error(
        "key file {path} is encrypted ({method}) and {reason}: regenerate it from its mnemonic \
         (`bittensor wallet regen_coldkey --mnemonic \"…\"` or `regen_hotkey`) with a password"
    )]
    KeyFileEncrypted {
        path: PathBuf,
        method: &'static str,
        reason: &'static str,
    },

    /// The password does not open a `$NACL` key file (or the file was damaged: the two cannot be
    /// told apart). Nothing was written.
    #[error("key file {path}: wrong password (the file was not changed)")]
    WrongPassword { path: PathBuf },

    /// No password could be obtained for an encrypted key (no terminal to ask on, no variable
    /// set); `hint` names what to set or pass.
    #[error("key file {path} needs a password: {hint}")]
    PasswordUnavailable { path: PathBuf, hint: String },

    /// The key derivation or the cipher failed for a reason other than the password.
    #[error("key encryption: {reason}")]
    Encryption { reason: String },

    #[error(
        "key file {path}: stored public key {stored} does not match the one derived from the \
         secret ({derived}); the file is corrupt or was edited"
    )]
    KeyMismatch {
        path: PathBuf,
        stored: String,
        derived: String,
    },

    #[error("invalid {what} {value:?}: {reason}")]
    BadHex {
        what: &'static str,
        value: String,
        reason: String,
    },

    #[error("invalid Ed25519 public key {key}: {reason}")]
    BadPublicKey { key: String, reason: String },

    #[error("signature must be 64 bytes, got {len}")]
    BadSignatureLength { len: usize },

    #[error("signature by {key} does not verify: {reason}")]
    BadSignature { key: String, reason: String },

    /// An endpoint a v2 request digest would bind that no caller can have dialled.
    #[error("invalid endpoint {value:?}: {reason}")]
    BadEndpoint { value: String, reason: &'static str },

    #[error("request is unsigned: {missing} is empty")]
    Unsigned { missing: &'static str },

    #[error("nonce {nonce} from {caller} is stale: older than {max_age_ns} ns before now ({now})")]
    StaleNonce {
        caller: String,
        nonce: i64,
        now: i64,
        max_age_ns: i64,
    },

    #[error(
        "nonce {nonce} from {caller} is in the future: more than {max_future_ns} ns after now \
         ({now}); check the caller's clock"
    )]
    FutureNonce {
        caller: String,
        nonce: i64,
        now: i64,
        max_future_ns: i64,
    },

    #[error("nonce {nonce} from {caller} was already used or is not above {floor}: replay")]
    ReplayedNonce {
        caller: String,
        nonce: i64,
        floor: i64,
    },

    #[error(
        "the nonce table is full ({cap} {scope} with live nonces): a new caller is refused \
         rather than a live one forgotten; retry in a few seconds"
    )]
    NonceTableFull { scope: &'static str, cap: usize },

    #[error(
        "no session opened: the session table is full ({cap} {scope}); the request is served \
         and its caller goes on signing each request"
    )]
    SessionTableFull { scope: &'static str, cap: usize },

    #[error("malformed {header} metadata: {reason}")]
    BadSessionHeader {
        header: &'static str,
        reason: String,
    },

    #[error("unknown or expired session {session}: start a new one with a signed request")]
    UnknownSession { session: String },

    #[error("session {session} belongs to another caller key than {got}")]
    SessionCaller { session: String, got: String },

    #[error("session {session}: the request's MAC does not verify")]
    BadSessionMac { session: String },

    #[error(
        "session {session}: counter {counter} was already used or is too old (highest {highest}, \
         too old: {too_old}): replay"
    )]
    ReplayedCounter {
        session: String,
        counter: u64,
        highest: u64,
        too_old: bool,
    },

    #[error("session share is of small order (the key exchange would not be secret)")]
    WeakSessionShare,

    #[error("proof of work of synapse {synapse_key}: {reason}")]
    ProofOfWork { synapse_key: String, reason: String },

    #[error("invalid SS58 address {address:?}: {reason}")]
    Ss58 { address: String, reason: String },

    #[error("sr25519 {what}: {reason}")]
    Sr25519 { what: &'static str, reason: String },

    /// Not a valid English BIP39 phrase; the message never repeats the words.
    #[error("invalid mnemonic: {reason}")]
    Mnemonic { reason: String },
}

/// Untrusted strings end up in error messages; cap them so a hostile peer cannot bloat our logs.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return s.to_owned();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…({} bytes)", &s[..end], s.len())
}
