//! The wallets under a root directory, as a `wallet list` shows them: public addresses only
//! where they can be read. A wallet directory or key file that cannot be read is skipped
//! rather than failing the listing, so one broken wallet does not hide the others.

use std::path::Path;

use super::{AccountId, Sr25519Pair, read_public_key_file};
use crate::CryptoError;

/// Most wallets, and most hotkeys per wallet, one listing reads.
pub const MAX_LISTED: usize = 1024;

/// One wallet directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletEntry {
    pub name: String,
    /// From `coldkeypub.txt`; None when it is missing or does not name an account.
    pub coldkey: Option<AccountId>,
    /// (file name, account) of each hotkey file that loads, by name.
    pub hotkeys: Vec<(String, AccountId)>,
}

/// The wallets under `root`, by name. Fails only when `root` itself cannot be read.
pub fn list_wallets(root: &Path) -> Result<Vec<WalletEntry>, CryptoError> {
    let entries = std::fs::read_dir(root).map_err(|source| CryptoError::WalletDir {
        path: root.to_path_buf(),
        source,
    })?;
    let mut dirs: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .take(MAX_LISTED)
        .collect();
    dirs.sort_by_key(|e| e.file_name());
    Ok(dirs
        .into_iter()
        .map(|d| WalletEntry {
            name: d.file_name().to_string_lossy().to_string(),
            coldkey: read_coldkeypub(&d.path().join("coldkeypub.txt")),
            hotkeys: read_hotkeys(&d.path().join("hotkeys")),
        })
        .collect())
}

fn read_coldkeypub(path: &Path) -> Option<AccountId> {
    read_public_key_file(path).ok()
}

fn read_hotkeys(dir: &Path) -> Vec<(String, AccountId)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries.filter_map(Result::ok).take(MAX_LISTED).collect();
    files.sort_by_key(|e| e.file_name());
    files
        .into_iter()
        .filter_map(|f| {
            let name = f.file_name().to_string_lossy().to_string();
            let account = match Sr25519Pair::load(f.path()) {
                Ok(pair) => pair.account(),
                // An encrypted hotkey is shown by its public file, as bittensor-wallet writes
                // one beside it, rather than asking for a password to list.
                Err(CryptoError::KeyFileEncrypted { .. }) => {
                    read_public_key_file(dir.join(format!("{name}pub.txt"))).ok()?
                }
                Err(_) => return None,
            };
            Some((name, account))
        })
        .collect()
}
