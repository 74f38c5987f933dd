//! Runs a scenario file: `cargo run -p bt-consensus --example simulate -- SCENARIO.json [json|table]`.
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| format!("{}/examples/scenario.json", env!("CARGO_MANIFEST_DIR")));
    let format = args.next().unwrap_or_else(|| "table".to_owned());
    let result = format
        .parse()
        .and_then(|f| bt_consensus::simulate::simulate_file(&path, f));
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
