//! `bittensor wallet …`: coldkeys and hotkeys as btcli makes them — a BIP39 phrase shown once,
//! the coldkey encrypted (`$NACL`) unless `--no_password`, hotkeys in the clear unless
//! `--use_password`, in the Python SDK's directory layout. Also how every other command loads
//! a wallet's keys: an encrypted key's password comes from [`CliPasswords`].

use std::path::{Path, PathBuf};

use anyhow::Result;
use bt_chain::Keypair;
use bt_crypto::CryptoError;
use bt_crypto::wallet::{
    PasswordPurpose, PasswordSource, Protection, Sr25519Pair, Wallet, write_public_key_file,
};
use clap::builder::TypedValueParser as _;
use clap::{ArgGroup, Args, Subcommand};

use crate::exit::{self, CliError};
use crate::password::{CliPasswords, PASSWORD_ENV, may_overwrite};

#[derive(Debug, Clone, Args)]
pub struct WalletArgs {
    /// Directory holding wallets (the Python SDK's layout; ~/.bittensor/wallets when absent).
    #[arg(
        long = "wallet.path",
        aliases = ["wallet_path", "wallet-path"],
        env = "BT_WALLET_PATH"
    )]
    pub root: Option<PathBuf>,
    /// Wallet (coldkey) name.
    #[arg(
        long = "wallet.name",
        aliases = ["wallet_name", "wallet-name"],
        default_value = "default",
        env = "BT_WALLET_NAME"
    )]
    pub name: String,
    /// Hotkey name within the wallet.
    #[arg(
        long = "wallet.hotkey",
        aliases = ["wallet_hotkey", "wallet-hotkey"],
        default_value = "default",
        env = "BT_WALLET_HOTKEY"
    )]
    pub hotkey: String,
}

impl WalletArgs {
    pub fn root(&self) -> PathBuf {
        self.root.clone().unwrap_or_else(|| {
            std::env::var_os("HOME")
                .map_or_else(|| PathBuf::from("."), PathBuf::from)
                .join(".bittensor/wallets")
        })
    }

    fn open(&self) -> Result<Wallet, CliError> {
        Wallet::new(self.root(), &self.name, &self.hotkey)
            .map_err(|e| CliError::Key(exit::wallet_error_text(&e)))
    }
}

/// How a new key is written.
#[derive(Debug, Clone, Args)]
pub struct KeyOptions {
    /// Encrypt the key with a password ($BT_COLDKEY_PASSWORD, else asked on the terminal);
    /// the default for coldkeys.
    #[arg(
        long = "use_password",
        alias = "use-password",
        conflicts_with = "no_password"
    )]
    pub use_password: bool,
    /// Write the key unencrypted, protected by its file mode (0600) only; the default for
    /// hotkeys.
    #[arg(long = "no_password", alias = "no-password")]
    pub no_password: bool,
    /// Replace a key that already exists (it is lost unless you have its mnemonic).
    #[arg(long)]
    pub overwrite: bool,
    /// Never ask: where a question would be asked (replace an existing key? its password?),
    /// fail instead, naming the flag or variable that answers it.
    #[arg(long = "no_prompt", alias = "no-prompt")]
    pub no_prompt: bool,
}

impl KeyOptions {
    fn encrypt(&self, by_default: bool) -> bool {
        (by_default || self.use_password) && !self.no_password
    }
}

/// The secret a key is regenerated from.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("secret").required(true).args(["mnemonic", "seed"])))]
pub struct RegenArgs {
    /// The key's BIP39 mnemonic, in one argument or as separate words.
    #[arg(long, num_args = 1..)]
    pub mnemonic: Option<Vec<String>>,
    /// The key's 32-byte seed in hex (0x…).
    #[arg(long)]
    pub seed: Option<String>,
    #[command(flatten)]
    pub wallet: WalletArgs,
    #[command(flatten)]
    pub options: KeyOptions,
}

#[derive(Debug, Clone, Args)]
pub struct NewArgs {
    /// Words in the new mnemonic.
    #[arg(
        long = "n_words",
        alias = "n-words",
        default_value_t = 12,
        value_parser = clap::builder::PossibleValuesParser::new(["12", "15", "18", "21", "24"])
            .map(|s| s.parse::<usize>().unwrap_or(12))
    )]
    pub n_words: usize,
    #[command(flatten)]
    pub wallet: WalletArgs,
    #[command(flatten)]
    pub options: KeyOptions,
}

#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Create a wallet: a new coldkey (encrypted unless --no_password) and hotkey.
    #[command(alias = "new")]
    Create(NewArgs),
    /// Create a new coldkey (encrypted unless --no_password).
    #[command(name = "new_coldkey", alias = "new-coldkey")]
    NewColdkey(NewArgs),
    /// Create a new hotkey (unencrypted unless --use_password).
    #[command(name = "new_hotkey", alias = "new-hotkey")]
    NewHotkey(NewArgs),
    /// Recreate a coldkey from its mnemonic or seed (encrypted unless --no_password).
    #[command(name = "regen_coldkey", alias = "regen-coldkey")]
    RegenColdkey(RegenArgs),
    /// Recreate a hotkey from its mnemonic or seed (unencrypted unless --use_password).
    #[command(name = "regen_hotkey", alias = "regen-hotkey")]
    RegenHotkey(RegenArgs),
    /// List wallets and their hotkeys (SS58 addresses).
    List(WalletArgs),
    /// Sign a message with the coldkey (or --use_hotkey), as btcli's `wallet sign`: prints
    /// the signer's address and the sr25519 signature in hex.
    Sign {
        /// The message, signed as its UTF-8 bytes.
        #[arg(long)]
        message: String,
        /// Sign with the hotkey instead of the coldkey.
        #[arg(long = "use_hotkey", alias = "use-hotkey")]
        use_hotkey: bool,
        #[command(flatten)]
        wallet: WalletArgs,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Cold,
    Hot,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Cold => "coldkey",
            Role::Hot => "hotkey",
        }
    }
}

pub fn wallet(cmd: WalletCommand) -> Result<u8> {
    match cmd {
        WalletCommand::Create(a) => {
            let wallet = a.wallet.open()?;
            // Both questions first, so a refusal leaves neither key replaced.
            check_overwrite(&wallet, Role::Cold, &a.options)?;
            check_overwrite(&wallet, Role::Hot, &a.options)?;
            // Each mnemonic is shown as soon as its key is on disk, so a failure with the
            // hotkey cannot leave a coldkey whose phrase nobody saw.
            let cold = Sr25519Pair::generate_with_phrase(a.n_words).map_err(key_error)?;
            write_key(&wallet, Role::Cold, &cold, &a.options)?;
            println!("wallet {} in {}", a.wallet.name, a.wallet.root().display());
            announce(Role::Cold, &cold, &a.wallet);
            let hot = Sr25519Pair::generate_with_phrase(a.n_words).map_err(key_error)?;
            write_key(&wallet, Role::Hot, &hot, &a.options)?;
            announce(Role::Hot, &hot, &a.wallet);
        }
        WalletCommand::NewColdkey(a) => new_key(Role::Cold, &a)?,
        WalletCommand::NewHotkey(a) => new_key(Role::Hot, &a)?,
        WalletCommand::RegenColdkey(a) => regen(Role::Cold, a)?,
        WalletCommand::RegenHotkey(a) => regen(Role::Hot, a)?,
        WalletCommand::List(w) => list(&w)?,
        WalletCommand::Sign {
            message,
            use_hotkey,
            wallet,
        } => {
            let pair = if use_hotkey {
                hotkey(&wallet)?
            } else {
                coldkey(&wallet)?
            };
            let signature = pair.sign(message.as_bytes());
            println!("signed by {}: 0x{}", pair.ss58(), hex::encode(signature));
        }
    }
    Ok(exit::OK)
}

fn key_error(e: CryptoError) -> CliError {
    CliError::Key(exit::wallet_error_text(&e))
}

fn key_path(wallet: &Wallet, role: Role) -> PathBuf {
    match role {
        Role::Cold => wallet.coldkey_path(),
        Role::Hot => wallet.hotkey_path(),
    }
}

fn check_overwrite(wallet: &Wallet, role: Role, options: &KeyOptions) -> Result<(), CliError> {
    may_overwrite(
        &key_path(wallet, role),
        options.overwrite,
        options.no_prompt,
    )
}

fn new_key(role: Role, a: &NewArgs) -> Result<()> {
    let wallet = a.wallet.open()?;
    check_overwrite(&wallet, role, &a.options)?;
    let pair = Sr25519Pair::generate_with_phrase(a.n_words).map_err(key_error)?;
    write_key(&wallet, role, &pair, &a.options)?;
    announce(role, &pair, &a.wallet);
    Ok(())
}

fn regen(role: Role, a: RegenArgs) -> Result<()> {
    let wallet = a.wallet.open()?;
    let pair = match (&a.mnemonic, &a.seed) {
        (Some(words), _) => {
            let phrase = zeroize::Zeroizing::new(words.join(" "));
            Sr25519Pair::from_phrase(phrase.trim(), "")
        }
        (None, Some(seed)) => seed_pair(seed),
        (None, None) => Err(CryptoError::Mnemonic {
            reason: "give --mnemonic or --seed".into(),
        }),
    }
    .map_err(|e| CliError::Usage(e.to_string()))?;
    check_overwrite(&wallet, role, &a.options)?;
    write_key(&wallet, role, &pair, &a.options)?;
    println!("{} regenerated: {}", role.name(), pair.ss58());
    Ok(())
}

fn seed_pair(seed: &str) -> Result<Sr25519Pair, CryptoError> {
    let digits = seed.trim().strip_prefix("0x").unwrap_or(seed.trim());
    let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(digits, bytes.as_mut()).map_err(|_| CryptoError::Mnemonic {
        reason: "--seed must be 64 hex digits (32 bytes), optionally after 0x".into(),
    })?;
    Ok(Sr25519Pair::from_seed(*bytes))
}

/// Writes the key (encrypted or not, as the options and its role say) and its public file.
/// The overwrite question was settled before; an existing file is replaced only if allowed.
fn write_key(wallet: &Wallet, role: Role, pair: &Sr25519Pair, o: &KeyOptions) -> Result<()> {
    let path = key_path(wallet, role);
    let replace = o.overwrite || path.exists();
    let written = if o.encrypt(role == Role::Cold) {
        let passwords = CliPasswords {
            prompt: !o.no_prompt,
        };
        passwords
            .password(&path, PasswordPurpose::Encrypt)
            .and_then(|password| pair.save_encrypted(&path, &password, replace))
    } else {
        pair.save_plain(&path, replace)
    };
    written.map_err(key_error)?;
    let public = match role {
        Role::Cold => wallet.coldkeypub_path(),
        Role::Hot => wallet.hotkeypub_path(),
    };
    write_public_key_file(&public, &pair.account()).map_err(key_error)?;
    Ok(())
}

/// What btcli prints for a new key: the mnemonic, once, on stdout (never in a log).
fn announce(role: Role, pair: &Sr25519Pair, w: &WalletArgs) {
    let label = match role {
        Role::Cold => "coldkey".to_string(),
        Role::Hot => format!("hotkey {}", w.hotkey),
    };
    if let Some(phrase) = pair.phrase() {
        println!(
            "IMPORTANT: store this mnemonic in a secure (preferably offline) place: anyone who \
             has it can regenerate the key and access its funds.\n\
             The mnemonic to the new {} is:\n\n{phrase}\n\n\
             You can recreate the key with `bittensor wallet regen_{} --mnemonic \"…\"`.",
            role.name(),
            role.name()
        );
    }
    println!("{label}: {}", pair.ss58());
}

fn list(w: &WalletArgs) -> Result<()> {
    let listed = bt_crypto::wallet::list_wallets(&w.root()).map_err(key_error)?;
    for info in listed {
        let cold = info
            .coldkey
            .map_or_else(|| "-".to_string(), |c| c.to_ss58());
        println!("{}  coldkey {cold}", info.name);
        for (name, key) in info.hotkeys {
            println!("  {name}  {}", key.to_ss58());
        }
    }
    Ok(())
}

/// A wallet's coldkey for signing, through the password source when it is encrypted; a
/// plaintext one still loads, with a warning.
pub fn coldkey(w: &WalletArgs) -> Result<Sr25519Pair> {
    let wallet = w.open()?;
    let (pair, protection) = off_executor(|| wallet.coldkey_with(&CliPasswords::TERMINAL))
        .map_err(|e| missing_key_error(w, &e))?;
    if protection == Protection::Plaintext {
        warn_plaintext(&wallet.coldkey_path());
    }
    Ok(pair)
}

/// Runs `f` — which may spend seconds in Argon2 or wait on a password prompt — so that it
/// does not hold up a Tokio worker when called from async code (the subnet commands).
fn off_executor<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// The wallet's hotkey (asking for a password only if it is encrypted).
pub fn hotkey(w: &WalletArgs) -> Result<Sr25519Pair> {
    let wallet = w.open()?;
    let (pair, _) = off_executor(|| wallet.hotkey_with(&CliPasswords::TERMINAL))
        .map_err(|e| missing_key_error(w, &e))?;
    Ok(pair)
}

/// The wallet's (coldkey, hotkey); a missing or unreadable key says how to create it.
pub fn keys(w: &WalletArgs) -> Result<(Keypair, Keypair)> {
    let cold = coldkey(w)?;
    let hot = hotkey(w)?;
    Ok((cold.into(), hot.into()))
}

pub(crate) fn missing_key_error(w: &WalletArgs, e: &CryptoError) -> anyhow::Error {
    let hint = match e {
        CryptoError::KeyFileMissing { .. } => format!(
            " (create it with `bittensor wallet new --wallet.name {} --wallet.hotkey {}`)",
            w.name, w.hotkey
        ),
        _ => String::new(),
    };
    CliError::Key(format!("{}{hint}", exit::wallet_error_text(e))).into()
}

pub(crate) fn warn_plaintext(path: &Path) {
    eprintln!(
        "warning: coldkey {} is not encrypted; protect it with `bittensor wallet regen_coldkey \
         --mnemonic \"…\" --overwrite` (a password from {PASSWORD_ENV} or the terminal)",
        path.display()
    );
}
