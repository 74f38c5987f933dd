//! Where the password of an encrypted key comes from. This crate only asks; a program decides
//! how to answer (an environment variable, a terminal prompt, a test's constant), so no terminal
//! code lives here.

use std::path::Path;

use zeroize::Zeroizing;

use crate::CryptoError;

/// Why a password is wanted: to open an existing key, or to protect a new one (a prompt would
/// then ask twice).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordPurpose {
    Decrypt,
    Encrypt,
}

/// A supplier of key-file passwords.
pub trait PasswordSource {
    /// The password for the key file at `path`. Errors are returned as they are, so an
    /// implementation that cannot ask should say what to set instead
    /// ([`CryptoError::PasswordUnavailable`]).
    fn password(
        &self,
        path: &Path,
        purpose: PasswordPurpose,
    ) -> Result<Zeroizing<String>, CryptoError>;
}

/// A fixed password (scripts, tests).
pub struct FixedPassword(pub Zeroizing<String>);

impl FixedPassword {
    pub fn new(password: &str) -> Self {
        Self(Zeroizing::new(password.to_owned()))
    }
}

impl PasswordSource for FixedPassword {
    fn password(&self, _: &Path, _: PasswordPurpose) -> Result<Zeroizing<String>, CryptoError> {
        Ok(self.0.clone())
    }
}

/// No password at all: an encrypted key is refused with [`CryptoError::KeyFileEncrypted`],
/// which is what [`super::Sr25519Pair::load`] does.
pub struct NoPassword;

impl PasswordSource for NoPassword {
    fn password(&self, path: &Path, _: PasswordPurpose) -> Result<Zeroizing<String>, CryptoError> {
        Err(CryptoError::KeyFileEncrypted {
            path: path.to_path_buf(),
            method: super::keyfile_json::NACL_METHOD,
            reason: "was read without a password",
        })
    }
}
