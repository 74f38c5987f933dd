//! Reference handlers for the built-in synapses, for `bittensor synapse serve` and tests: they
//! answer deterministically so a caller can assert the value.
//!
//! - `Dummy`: `dummy_output = 2 × dummy_input` (the subnet template's miner).
//! - `Prompting`: `completion` = the last message, prefixed by its role (an echo).
//! - `StreamPrompting`: the same echo as `Prompting`, streamed one word per chunk.
//! - `TensorForward`: `outputs` = `2 × inputs`, same dtype and shape (floats and ints).

use bt_http::builtin::{BUILTIN_NAMES, Dummy, Prompting, StreamPrompting, TensorForward};
use bt_http::sdk_tensor::SdkTensor;
use bt_tensor::{DType, Limits, Modality, Tensor};

use super::{CallInfo, HandlerError, HttpAxonBuilder};

/// `name` is not a built-in synapse.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("no built-in synapse named {0:?}; built-in: {names}", names = BUILTIN_NAMES.join(", "))]
pub struct UnknownBuiltin(pub String);

/// Attach the reference handler of the built-in synapse `name`.
pub fn attach_builtin(
    builder: HttpAxonBuilder,
    name: &str,
) -> Result<HttpAxonBuilder, UnknownBuiltin> {
    Ok(match name {
        "Dummy" => builder.attach(|mut s: Dummy, _: CallInfo| async move {
            s.dummy_output = Some(s.dummy_input.checked_mul(2).ok_or_else(|| {
                HandlerError::bad_request("dummy_input × 2 overflows a 64-bit integer")
            })?);
            Ok(s)
        }),
        "Prompting" => builder.attach(|mut s: Prompting, _: CallInfo| async move {
            s.completion = echo(&s.roles, &s.messages);
            Ok(s)
        }),
        "StreamPrompting" => builder.attach_stream(|s: StreamPrompting, _: CallInfo| async move {
            let text = echo(&s.roles, &s.messages);
            let words: Vec<bytes::Bytes> = text
                .split_inclusive(' ')
                .map(|w| bytes::Bytes::from(w.to_string()))
                .collect();
            Ok(tokio_stream::iter(words))
        }),
        "TensorForward" => builder.attach(|mut s: TensorForward, _: CallInfo| async move {
            let input = s
                .inputs
                .as_ref()
                .ok_or_else(|| HandlerError::bad_request("inputs is missing"))?;
            // Decoding and doubling a large tensor is CPU work: off the I/O threads.
            let input = input.clone();
            let doubled = tokio::task::spawn_blocking(move || double(&input))
                .await
                .map_err(|e| HandlerError::internal(e.to_string()))??;
            s.outputs = Some(doubled);
            Ok(s)
        }),
        other => return Err(UnknownBuiltin(other.to_string())),
    })
}

/// `"{last role}: {last message}"`.
fn echo(roles: &[String], messages: &[String]) -> String {
    let last = messages.last().map_or("", String::as_str);
    let role = roles.last().map_or("user", String::as_str);
    format!("{role}: {last}")
}

fn double(input: &SdkTensor) -> Result<SdkTensor, HandlerError> {
    let t = input
        .to_tensor(&Limits::DEFAULT)
        .map_err(|e| HandlerError::bad_request(e.to_string()))?;
    let shape = t.shape().to_vec();
    let bad = |e: bt_tensor::TensorError| HandlerError::bad_request(e.to_string());
    let out = match t.dtype() {
        DType::Float32 => {
            let v: Vec<f32> = t
                .to_f32_vec()
                .map_err(bad)?
                .iter()
                .map(|x| x * 2.0)
                .collect();
            Tensor::from_f32_vec(&shape, v, Modality::Tensor)
        }
        DType::Float64 => {
            let v: Vec<f64> = t
                .to_f64_vec()
                .map_err(bad)?
                .iter()
                .map(|x| x * 2.0)
                .collect();
            Tensor::from_f64(&shape, &v, Modality::Tensor)
        }
        DType::Int32 => {
            let v: Vec<i32> = t
                .to_vec::<i32>()
                .map_err(bad)?
                .iter()
                .map(|x| x.wrapping_mul(2))
                .collect();
            Tensor::from_i32(&shape, &v, Modality::Tensor)
        }
        DType::Int64 => {
            let v: Vec<i64> = t
                .to_vec::<i64>()
                .map_err(bad)?
                .iter()
                .map(|x| x.wrapping_mul(2))
                .collect();
            Tensor::from_i64(&shape, &v, Modality::Tensor)
        }
        other => {
            return Err(HandlerError::bad_request(format!(
                "TensorForward's reference handler doubles float32/64 and int32/64, not {other:?}"
            )));
        }
    }
    .map_err(bad)?;
    SdkTensor::from_tensor(&out).map_err(|e| HandlerError::internal(e.to_string()))
}
