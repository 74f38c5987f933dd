//! The session test vectors of docs/protocol.md (gRPC and HTTP), recomputed by an independent
//! implementation (Python's pyca/cryptography and `blake3`, from the document rather than our
//! code). Skips with a message when python3 cannot import them; CI installs both.

use std::path::PathBuf;
use std::process::{Command, Stdio};

#[test]
fn python_recomputes_the_session_vectors() {
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
    for (script, ok) in [
        ("tests/session_vectors.py", "session vectors ok"),
        ("tests/http_session_vectors.py", "http session vectors ok"),
    ] {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(script);
        let out = match Command::new("python3").arg(&script).output() {
            Ok(out) => out,
            Err(e) => panic!("cannot run python3 {}: {e}", script.display()),
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.lines().any(|l| l == ok),
            "{}\nstdout: {stdout}\nstderr: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
