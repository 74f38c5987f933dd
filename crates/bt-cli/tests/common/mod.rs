//! Waiting for the lines that say a `bittensor` process is ready, shared by the tests and the
//! synapse bench (included there by path).

#![allow(dead_code)]

use std::time::Duration;

use bt_neuron::report::{Event, Ready};
use bt_testnet::process::{ChildProcess, Line, Stream};

/// A neuron's ready line (`bittensor neuron …`), parsed.
pub async fn neuron_ready(process: &mut ChildProcess, timeout: Duration) -> Ready {
    process
        .wait_for_line(0, timeout, |l: &Line| {
            match bt_neuron::report::parse(&l.text) {
                Some(Event::Ready(r)) if l.stream == Stream::Stdout => Some(r),
                _ => None,
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `bittensor synapse serve`'s ready line: `serving NAMES on http://ADDR as hotkey SS58`, as
/// `(ADDR, SS58)`.
pub async fn synapse_serving(process: &mut ChildProcess, timeout: Duration) -> (String, String) {
    process
        .wait_for_line(0, timeout, |l: &Line| {
            let (_, rest) = l.text.strip_prefix("serving ")?.split_once(" on http://")?;
            let (addr, hotkey) = rest.split_once(" as hotkey ")?;
            (l.stream == Stream::Stdout).then(|| (addr.to_string(), hotkey.to_string()))
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}
