//! Key-file passwords and confirmations for the CLI: `BT_COLDKEY_PASSWORD` for scripts, else a
//! no-echo prompt — but only when stdin is a terminal, so a script or a CI job gets an error
//! naming what to set instead of a process that waits forever.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use bt_crypto::CryptoError;
use bt_crypto::wallet::{PasswordPurpose, PasswordSource};
use zeroize::Zeroizing;

use crate::exit::CliError;

/// The variable a script sets to give the password of encrypted keys.
pub const PASSWORD_ENV: &str = "BT_COLDKEY_PASSWORD";

/// Environment first, then the terminal (unless `prompt` is off, as `--no_prompt` asks).
pub struct CliPasswords {
    pub prompt: bool,
}

impl CliPasswords {
    /// Asks on the terminal when there is one.
    pub const TERMINAL: Self = Self { prompt: true };
}

impl PasswordSource for CliPasswords {
    fn password(
        &self,
        path: &Path,
        purpose: PasswordPurpose,
    ) -> Result<Zeroizing<String>, CryptoError> {
        let unavailable = |hint: String| CryptoError::PasswordUnavailable {
            path: path.to_path_buf(),
            hint,
        };
        if let Some(value) = std::env::var_os(PASSWORD_ENV) {
            let value = Zeroizing::new(
                value
                    .into_string()
                    .map_err(|_| unavailable(format!("{PASSWORD_ENV} is not valid UTF-8")))?,
            );
            if value.is_empty() && purpose == PasswordPurpose::Encrypt {
                return Err(unavailable(format!(
                    "{PASSWORD_ENV} is empty; set a password or pass --no_password"
                )));
            }
            return Ok(value);
        }
        if !self.prompt || !std::io::stdin().is_terminal() {
            let why = if self.prompt {
                "stdin is not a terminal to ask on"
            } else {
                "--no_prompt forbids asking"
            };
            return Err(unavailable(match purpose {
                PasswordPurpose::Decrypt => {
                    format!("{why}; set {PASSWORD_ENV} to the key's password")
                }
                PasswordPurpose::Encrypt => format!(
                    "{why}; set {PASSWORD_ENV}, or pass --no_password for an unencrypted key"
                ),
            }));
        }
        let prompt_error = |e: std::io::Error| unavailable(format!("reading the password: {e}"));
        match purpose {
            PasswordPurpose::Decrypt => {
                let prompt = format!("Enter password to unlock key {}: ", path.display());
                rpassword::prompt_password(prompt)
                    .map(Zeroizing::new)
                    .map_err(prompt_error)
            }
            PasswordPurpose::Encrypt => {
                let first = Zeroizing::new(
                    rpassword::prompt_password(format!(
                        "Password to encrypt {} with: ",
                        path.display()
                    ))
                    .map_err(prompt_error)?,
                );
                if first.is_empty() {
                    return Err(unavailable(
                        "an empty password protects nothing; pass --no_password instead".into(),
                    ));
                }
                let again = Zeroizing::new(
                    rpassword::prompt_password("Retype the password: ").map_err(prompt_error)?,
                );
                if first != again {
                    return Err(unavailable("the passwords did not match".into()));
                }
                Ok(first)
            }
        }
    }
}

/// Whether an existing `path` may be replaced: yes with `--overwrite`; otherwise ask on a
/// terminal (unless `--no_prompt`), and fail, naming `--overwrite`, where nobody can answer.
pub fn may_overwrite(path: &Path, overwrite: bool, no_prompt: bool) -> Result<(), CliError> {
    if overwrite || !path.exists() {
        return Ok(());
    }
    let refused = || {
        CliError::Key(format!(
            "{} already exists; pass --overwrite to replace it (its key is lost unless you have \
             its mnemonic)",
            path.display()
        ))
    };
    if no_prompt || !std::io::stdin().is_terminal() {
        return Err(refused());
    }
    if ask_yes_no(&format!("{} already exists. Overwrite?", path.display()))? {
        Ok(())
    } else {
        Err(refused())
    }
}

/// Asks `question` on the terminal (stderr) and reads y/N from stdin; callers make sure stdin
/// is a terminal first, so this never waits on a pipe.
pub fn ask_yes_no(question: &str) -> Result<bool, CliError> {
    eprint!("{question} (y/N): ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::Usage(format!("reading the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
