//! The session test vector of docs/protocol.md, recomputed by an independent implementation
//! (Python's pyca/cryptography and `blake3`, from the document rather than our code). Skips with a
//! message when python3 cannot import them; CI installs both.

use std::path::PathBuf;
use std::process::{Command, Stdio};

#[test]
fn python_recomputes_the_session_vector() {
    let importable = Command::new("python3")
        .args(["-c", "import cryptography, blake3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        println!(
            "SKIPPED session vectors: python3 cannot import cryptography and blake3 \
             (pip install cryptography blake3)"
        );
        return;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/session_vectors.py");
    let out = match Command::new("python3").arg(&script).output() {
        Ok(out) => out,
        Err(e) => panic!("cannot run python3 {}: {e}", script.display()),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("session vectors ok"),
        "{}\nstdout: {stdout}\nstderr: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
