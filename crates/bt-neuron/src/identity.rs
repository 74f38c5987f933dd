//! Keys and addresses: who the neuron is and where peers reach it.
//!
//! One key serves one running neuron. [`acquire`] takes an exclusive advisory lock (`flock`) on
//! the key file before it reads or writes anything else, and the lock lives in the returned
//! [`Identity`]: a second process given the same key fails with [`NeuronError::KeyInUse`]
//! having written nothing, and the kernel drops the lock when the holder exits, crash included,
//! so a lock can never be left stale.
//!
//! Without an explicit key file a neuron's key is `neurons/NAME/neuron.key` under the working
//! directory ([`KeyChoice`]): NAME is given, or the first of `neuron-0`, `neuron-1`, … whose key
//! no running neuron holds. Two neurons started from one directory therefore get two identities,
//! and a neuron started again gets the identity it had (the lowest free one).

use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use bt_crypto::{CryptoError, NeuronKey};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::error::NeuronError;

/// Where neurons keep their keys when no key file is given, relative to the working directory.
pub const NEURONS_DIR: &str = "neurons";
/// The key file's name inside a neuron's directory.
pub const KEY_FILE: &str = "neuron.key";
/// How many default names (`neuron-0` …) [`KeyChoice::FirstFree`] tries before it gives up.
pub const FREE_NAMES: usize = 1024;

/// Which key a neuron runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChoice {
    /// `--neuron_key PATH`: this file.
    File(PathBuf),
    /// `--name NAME`: `dir/NAME/neuron.key`.
    Named { dir: PathBuf, name: String },
    /// Neither: the first of `dir/neuron-0/neuron.key`, `dir/neuron-1/…` not held by a running
    /// neuron.
    FirstFree { dir: PathBuf },
}

impl Default for KeyChoice {
    fn default() -> Self {
        KeyChoice::FirstFree {
            dir: PathBuf::from(NEURONS_DIR),
        }
    }
}

impl KeyChoice {
    /// `--name NAME` under [`NEURONS_DIR`]. The name becomes a directory name, so it is one plain
    /// path component: letters, digits, `-`, `_` and `.`, not starting with `.`.
    pub fn named(name: &str) -> Result<Self, NeuronError> {
        let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if name.is_empty() || name.len() > 64 || name.starts_with('.') || !name.chars().all(plain) {
            return Err(NeuronError::Config(format!(
                "--name {name:?}: use 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'"
            )));
        }
        Ok(KeyChoice::Named {
            dir: PathBuf::from(NEURONS_DIR),
            name: name.to_string(),
        })
    }
}

/// The key file of the neuron called `name` under `dir`.
pub fn named_key_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(name).join(KEY_FILE)
}

/// The neuron key and the key of the synapse it serves. The synapse key is kept in a file beside
/// the neuron key so that a restarted neuron serves under the same synapse key and its peers'
/// router keys stay valid. Holds the lock on the key file until dropped.
pub struct Identity {
    pub neuron: NeuronKey,
    pub synapse: NeuronKey,
    pub created: bool,
    path: PathBuf,
    _lock: Flock<File>,
}

impl Identity {
    /// Another handle on the neuron key, for a component that owns its key (keys are not
    /// `Clone` so that secrets are not copied around in memory by accident).
    pub fn neuron_key(&self) -> Result<NeuronKey, NeuronError> {
        Ok(NeuronKey::load(&self.path)?)
    }

    /// The neuron key file (the synapse key is [`synapse_key_path`] of it).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

pub fn synapse_key_path(neuron_key: &Path) -> PathBuf {
    let mut name = neuron_key.as_os_str().to_os_string();
    name.push(".synapse");
    PathBuf::from(name)
}

/// The key chosen by `choice`, created on first use and locked for as long as the returned
/// [`Identity`] lives. Call it before the neuron writes anything else (log files, checkpoints),
/// so that a neuron refused for a key in use leaves no trace.
pub fn acquire(choice: &KeyChoice) -> Result<Identity, NeuronError> {
    match choice {
        KeyChoice::File(path) => acquire_file(path, InUse::File),
        KeyChoice::Named { dir, name } => acquire_file(&named_key_path(dir, name), InUse::Named),
        KeyChoice::FirstFree { dir } => {
            for n in 0..FREE_NAMES {
                let path = named_key_path(dir, &format!("neuron-{n}"));
                match acquire_file(&path, InUse::File) {
                    Err(NeuronError::KeyInUse { .. }) => continue,
                    other => return other,
                }
            }
            Err(NeuronError::NoFreeKey {
                dir: dir.clone(),
                tried: FREE_NAMES,
            })
        }
    }
}

/// [`acquire`] of one key file (`--neuron_key`).
pub fn load_identity(neuron_key: &Path) -> Result<Identity, NeuronError> {
    acquire(&KeyChoice::File(neuron_key.to_path_buf()))
}

/// What a refused neuron is told to change.
#[derive(Clone, Copy)]
enum InUse {
    File,
    Named,
}

impl InUse {
    fn hint(self) -> &'static str {
        match self {
            InUse::File => "give this neuron its own key with --neuron_key PATH (or --name NAME)",
            InUse::Named => {
                "give this neuron another --name, or its own key with --neuron_key PATH"
            }
        }
    }
}

fn acquire_file(path: &Path, in_use: InUse) -> Result<Identity, NeuronError> {
    let (lock, created) = lock_key_file(path, in_use)?;
    // Only the lock holder gets here, so the synapse key is never created by two processes.
    let neuron = NeuronKey::load(path)?;
    let (synapse, _) = NeuronKey::load_or_generate(synapse_key_path(path))?;
    Ok(Identity {
        neuron,
        synapse,
        created,
        path: path.to_path_buf(),
        _lock: lock,
    })
}

/// Opens and locks the key file at `path`, creating a new key there first when there is none.
/// Returns the lock and whether this call created the key.
fn lock_key_file(path: &Path, in_use: InUse) -> Result<(Flock<File>, bool), NeuronError> {
    // Each retry means another process created or replaced the file between two of our steps;
    // a handful covers any real interleaving.
    const ATTEMPTS: usize = 8;
    let mut created = false;
    for _ in 0..ATTEMPTS {
        let file = match open_for_lock(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Published whole or not at all, and never over a key another process has just
                // created: then that one is the key, and the lock below decides who runs.
                match NeuronKey::generate().save_new(path) {
                    Ok(()) => created = true,
                    Err(CryptoError::KeyFileExists { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                continue;
            }
            Err(source) => return Err(key_io(path, "open", source)),
        };
        let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((_, Errno::EWOULDBLOCK)) => {
                return Err(NeuronError::KeyInUse {
                    path: path.to_path_buf(),
                    hint: in_use.hint(),
                });
            }
            Err((_, errno)) => {
                return Err(NeuronError::KeyLock {
                    path: path.to_path_buf(),
                    source: std::io::Error::from(errno),
                });
            }
        };
        // A lock on a file that is no longer at `path` (replaced or removed between the open
        // and the lock) would guard nothing: start over with whatever is there now.
        if still_at(&lock, path)? {
            return Ok((lock, created));
        }
    }
    Err(NeuronError::KeyLock {
        path: path.to_path_buf(),
        source: std::io::Error::other("the file kept being replaced while we locked it"),
    })
}

/// Read-write when allowed, because an exclusive lock on NFS needs a file open for writing;
/// read-only for a key the user made read-only (mode 0400) or that sits on a read-only mount.
/// Nothing is ever written through this handle.
fn open_for_lock(path: &Path) -> std::io::Result<File> {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            File::open(path)
        }
        other => other,
    }
}

fn still_at(lock: &Flock<File>, path: &Path) -> Result<bool, NeuronError> {
    use std::os::unix::fs::MetadataExt;
    let held = lock.metadata().map_err(|e| key_io(path, "stat", e))?;
    match std::fs::metadata(path) {
        Ok(now) => Ok(now.dev() == held.dev() && now.ino() == held.ino()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(key_io(path, "stat", e)),
    }
}

fn key_io(path: &Path, op: &'static str, source: std::io::Error) -> NeuronError {
    NeuronError::Key(CryptoError::Io {
        path: path.to_path_buf(),
        op,
        source,
    })
}

/// `--remote_ip` when given; otherwise the first non-loopback IPv4 address of a local
/// interface, then any non-loopback address, then 127.0.0.1. Never an external look-up.
pub fn resolve_remote_ip(given: Option<&str>) -> Result<IpAddr, NeuronError> {
    if let Some(ip) = given {
        return ip
            .trim()
            .parse()
            .map_err(|_| NeuronError::Config(format!("--remote_ip {ip:?} is not an IP address")));
    }
    let addrs: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|list| {
            list.into_iter()
                .filter(|i| !i.is_loopback())
                .map(|i| i.ip())
                .collect()
        })
        .unwrap_or_default();
    Ok(addrs
        .iter()
        .find(|ip| ip.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .unwrap_or(IpAddr::from([127, 0, 0, 1])))
}

/// Where to listen: only on loopback when peers are told to use loopback, else everywhere.
pub fn listen_ip(remote: IpAddr) -> IpAddr {
    if remote.is_loopback() {
        remote
    } else if remote.is_ipv4() {
        IpAddr::from([0, 0, 0, 0])
    } else {
        IpAddr::from([0u16; 8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_persist_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/neuron.key");
        let first = load_identity(&path).unwrap();
        assert!(first.created);
        let (neuron, synapse) = (first.neuron.public_hex(), first.synapse.public_hex());
        assert_ne!(neuron, synapse);
        drop(first);
        let again = load_identity(&path).unwrap();
        assert!(!again.created);
        assert_eq!(again.neuron.public_hex(), neuron);
        assert_eq!(again.synapse.public_hex(), synapse);
    }

    #[test]
    fn a_held_key_is_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("neuron.key");
        let held = load_identity(&path).unwrap();
        let before = std::fs::read(&path).unwrap();
        // flock locks belong to an open file, so a second open in this process conflicts just
        // as another process would.
        let err = load_identity(&path).err().unwrap();
        assert!(matches!(err, NeuronError::KeyInUse { .. }), "{err}");
        assert!(err.to_string().contains("--neuron_key"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        drop(held);
        assert_eq!(
            load_identity(&path).unwrap().neuron.public_hex(),
            NeuronKey::load(&path).unwrap().public_hex()
        );
    }

    #[test]
    fn named_keys_are_refused_naming_both_flags() {
        let dir = tempfile::tempdir().unwrap();
        let choice = KeyChoice::Named {
            dir: dir.path().to_path_buf(),
            name: "alpha".into(),
        };
        let _held = acquire(&choice).unwrap();
        assert!(dir.path().join("alpha/neuron.key").exists());
        let err = acquire(&choice).err().unwrap().to_string();
        assert!(
            err.contains("--name") && err.contains("--neuron_key"),
            "{err}"
        );
        for bad in ["", ".", "..", ".hidden", "a/b", "a b", &"x".repeat(65)] {
            assert!(KeyChoice::named(bad).is_err(), "{bad:?}");
        }
        assert!(KeyChoice::named("miner-1.test_A").is_ok());
    }

    #[test]
    fn first_free_gives_concurrent_neurons_distinct_and_restarted_ones_the_same_keys() {
        let dir = tempfile::tempdir().unwrap();
        let choice = KeyChoice::FirstFree {
            dir: dir.path().join("neurons"),
        };
        let a = acquire(&choice).unwrap();
        let b = acquire(&choice).unwrap();
        assert!(a.path().ends_with("neurons/neuron-0/neuron.key"));
        assert!(b.path().ends_with("neurons/neuron-1/neuron.key"));
        assert_ne!(a.neuron.public_hex(), b.neuron.public_hex());
        assert_ne!(a.synapse.public_hex(), b.synapse.public_hex());
        let (a_key, b_key) = (a.neuron.public_hex(), b.neuron.public_hex());
        drop(a);
        // The lowest free name again: a neuron started again is who it was.
        let a2 = acquire(&choice).unwrap();
        assert!(!a2.created);
        assert_eq!(a2.neuron.public_hex(), a_key);
        drop(b);
        let b2 = acquire(&choice).unwrap();
        assert_eq!(b2.neuron.public_hex(), b_key);
    }

    #[test]
    fn racing_creators_of_a_new_key_share_one_key_and_one_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/neuron.key");
        let barrier = std::sync::Barrier::new(8);
        let results: Vec<Result<Identity, NeuronError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (path, barrier) = (&path, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        load_identity(path)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let running: Vec<&Identity> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(running.len(), 1);
        for r in &results {
            if let Err(e) = r {
                assert!(matches!(e, NeuronError::KeyInUse { .. }), "{e}");
            }
        }
        assert_eq!(
            NeuronKey::load(&path).unwrap().public_hex(),
            running[0].neuron.public_hex()
        );
    }

    #[test]
    fn remote_ip_given_or_found_locally() {
        assert_eq!(
            resolve_remote_ip(Some("127.0.0.1")).unwrap(),
            IpAddr::from([127, 0, 0, 1])
        );
        let err = resolve_remote_ip(Some("not-an-ip"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--remote_ip"), "{err}");
        let found = resolve_remote_ip(None).unwrap();
        assert!(!found.is_unspecified());
        assert_eq!(
            listen_ip(IpAddr::from([127, 0, 0, 1])),
            IpAddr::from([127, 0, 0, 1])
        );
        assert!(listen_ip(IpAddr::from([10, 1, 2, 3])).is_unspecified());
    }
}
