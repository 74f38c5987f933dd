"""The SDK 10.5 Axon serving Dummy (2x), Prompting ("py: " + last message), TensorForward
(2x) and StreamPrompting ("py: " + last message + " streamed", word by word) with a given
wallet. Prints `ready PORT HOTKEY` and serves until killed."""
import argparse
import sys
import time

from sdk_common import offline, synapse_classes, wallet

p = argparse.ArgumentParser()
p.add_argument("--wallet_path", required=True)
p.add_argument("--wallet_name", required=True)
p.add_argument("--port", type=int, required=True)
a = p.parse_args()

offline()
import bittensor as bt  # noqa: E402
import numpy as np  # noqa: E402

Dummy, Prompting, TensorForward = synapse_classes()
StreamPrompting = Dummy.StreamPrompting
w = wallet(a.wallet_path, a.wallet_name)


def dummy(s: Dummy) -> Dummy:
    s.dummy_output = s.dummy_input * 2
    return s


def prompting(s: Prompting) -> Prompting:
    s.completion = "py: " + s.messages[-1]
    return s


def tensor_forward(s: TensorForward) -> TensorForward:
    s.outputs = bt.Tensor.serialize(np.asarray(s.inputs.deserialize()) * 2)
    return s


def stream_prompting(s: StreamPrompting) -> StreamPrompting.BTStreamingResponse:
    words = ("py: " + s.messages[-1] + " streamed").split(" ")

    async def tokens(send):
        for i, w in enumerate(words):
            chunk = w if i == len(words) - 1 else w + " "
            await send({"type": "http.response.body", "body": chunk.encode(), "more_body": True})

    return s.create_streaming_response(tokens)


axon = bt.Axon(wallet=w, port=a.port, ip="127.0.0.1", external_ip="127.0.0.1",
               external_port=a.port)
axon.attach(forward_fn=dummy).attach(forward_fn=prompting).attach(forward_fn=tensor_forward)
axon.attach(forward_fn=stream_prompting)
axon.start()
print(f"ready {a.port} {w.hotkey.ss58_address}", flush=True)
while True:
    time.sleep(3600)
