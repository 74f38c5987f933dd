//! Safe handling of secret key files, shared by neuron keys and wallet keys.
//!
//! Writes are atomic (a temporary file in the same directory, fsynced, then renamed over the
//! target) so a crash never leaves a half-written key behind. On unix the file is created with
//! mode 0600 from the start (never world-readable, even briefly), and reading refuses any file
//! that group or others may access — the same policy as OpenSSH, because a leaked neuron key lets
//! anyone impersonate the neuron and a leaked coldkey loses funds.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::CryptoError;

/// Key files are tiny; anything larger is not ours and is not read into memory.
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> CryptoError + 'a {
    move |source| CryptoError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// Serialise `value` as JSON and write it atomically with mode 0600.
pub(crate) fn write_json_secret<T: Serialize>(path: &Path, value: &T) -> Result<(), CryptoError> {
    write_secret(path, &to_json(path, value)?)
}

/// As [`write_json_secret`], to a new file only (see [`write_secret_new`]).
pub(crate) fn write_json_secret_new<T: Serialize>(
    path: &Path,
    value: &T,
) -> Result<(), CryptoError> {
    write_secret_new(path, &to_json(path, value)?)
}

fn to_json<T: Serialize>(path: &Path, value: &T) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let json = serde_json::to_vec_pretty(value).map_err(|source| CryptoError::KeyFileJson {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Zeroizing::new(json))
}

/// Atomic, private write: temp file (0600, `create_new`) + fsync + rename + fsync of the directory.
pub(crate) fn write_secret(path: &Path, contents: &[u8]) -> Result<(), CryptoError> {
    publish_secret(path, contents, |tmp, path| {
        fs::rename(tmp, path).map_err(io(path, "rename"))
    })
}

/// As [`write_secret`], but never replaces a file: when `path` exists (even if another process
/// created it a moment ago) this fails with [`CryptoError::KeyFileExists`] and leaves it as it
/// was. A hard link publishes the complete temp file under the final name in one step and, unlike
/// a rename, refuses to overwrite, so two processes creating the same key cannot both succeed.
pub(crate) fn write_secret_new(path: &Path, contents: &[u8]) -> Result<(), CryptoError> {
    publish_secret(path, contents, |tmp, path| match fs::hard_link(tmp, path) {
        Ok(()) => {
            // The key now has two names; the temporary one must go. Should that fail, a stray
            // private file is left, never a missing or partial key.
            let _ = fs::remove_file(tmp);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(CryptoError::KeyFileExists {
                path: path.to_path_buf(),
            })
        }
        Err(e) => Err(io(path, "link")(e)),
    })
}

/// Writes `contents` to a private temp file beside `path`, syncs it and lets `publish` give it
/// its final name; on any failure the temp file is removed.
fn publish_secret(
    path: &Path,
    contents: &[u8],
    publish: impl FnOnce(&Path, &Path) -> Result<(), CryptoError>,
) -> Result<(), CryptoError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| CryptoError::KeyFileInvalid {
            path: path.to_path_buf(),
            reason: "path has no file name".into(),
        })?
        .to_string_lossy()
        .into_owned();

    let mut suffix = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut suffix);
    let tmp = dir.join(format!(".{name}.tmp-{}", hex::encode(suffix)));

    let result = (|| {
        let mut file = open_private_new(&tmp)?;
        file.write_all(contents).map_err(io(&tmp, "write"))?;
        file.sync_all().map_err(io(&tmp, "fsync"))?;
        drop(file);
        publish(&tmp, path)?;
        // Make the new name durable; failure here only loses durability, not integrity.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(unix)]
fn open_private_new(path: &Path) -> Result<fs::File, CryptoError> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path, "create"))
}

#[cfg(not(unix))]
fn open_private_new(path: &Path) -> Result<fs::File, CryptoError> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io(path, "create"))
}

fn create_private_dir(dir: &Path) -> Result<(), CryptoError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io(dir, "create directory"))
}

/// Read a secret file after checking that it exists, is private and is small.
pub(crate) fn read_secret(path: &Path) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    read_limited(path, true, MAX_KEY_FILE_BYTES)
}

/// Read a file of public data (no permission check) of at most `max` bytes.
pub(crate) fn read_public(path: &Path, max: u64) -> Result<Vec<u8>, CryptoError> {
    read_limited(path, false, max).map(|buf| buf.to_vec())
}

/// The size is checked from metadata before anything is read, so a huge or endless file (a
/// device, a log someone pointed us at) is refused without being pulled into memory.
fn read_limited(path: &Path, private: bool, max: u64) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CryptoError::KeyFileMissing {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(io(path, "stat")(e)),
    };
    if private {
        check_private(path, &meta)?;
    }
    let too_large = |len: u64| CryptoError::KeyFileTooLarge {
        path: path.to_path_buf(),
        len,
        max,
    };
    if meta.len() > max {
        return Err(too_large(meta.len()));
    }
    let file = fs::File::open(path).map_err(io(path, "open"))?;
    let mut buf = Zeroizing::new(Vec::new());
    // `take` guards against a file that grows between stat and read.
    file.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(io(path, "read"))?;
    if buf.len() as u64 > max {
        return Err(too_large(buf.len() as u64));
    }
    Ok(buf)
}

pub(crate) fn read_json_secret<T: DeserializeOwned>(path: &Path) -> Result<T, CryptoError> {
    let bytes = read_secret(path)?;
    serde_json::from_slice(&bytes).map_err(|source| CryptoError::KeyFileJson {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), CryptoError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CryptoError::InsecurePermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _meta: &fs::Metadata) -> Result<(), CryptoError> {
    Ok(())
}

/// Parse `0x` + exactly `2 * N` hex digits (either case) into `N` bytes.
pub(crate) fn parse_hex_array<const N: usize>(
    what: &'static str,
    s: &str,
) -> Result<[u8; N], CryptoError> {
    let bad = |reason: String| CryptoError::BadHex {
        what,
        value: crate::error::clip(s),
        reason,
    };
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| bad("must start with \"0x\"".into()))?;
    if digits.len() != 2 * N {
        return Err(bad(format!(
            "expected {} hex digits ({N} bytes), got {}",
            2 * N,
            digits.len()
        )));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|e| bad(e.to_string()))?;
    Ok(out)
}
