"""The SDK 10.5 Dendrite calling an axon at --endpoint: Dummy, Prompting and TensorForward.
Prints one JSON object per call: name, status_code, status_message, value."""
import argparse
import asyncio
import json

from sdk_common import offline, synapse_classes, wallet

p = argparse.ArgumentParser()
p.add_argument("--wallet_path", required=True)
p.add_argument("--wallet_name", required=True)
p.add_argument("--endpoint", required=True)
p.add_argument("--axon_hotkey", required=True)
a = p.parse_args()

offline()
import bittensor as bt  # noqa: E402
import numpy as np  # noqa: E402
from bittensor.core.chain_data import AxonInfo  # noqa: E402
from bittensor.core.settings import version_as_int  # noqa: E402

Dummy, Prompting, TensorForward = synapse_classes()
StreamPrompting = Dummy.StreamPrompting
w = wallet(a.wallet_path, a.wallet_name)
ip, port = a.endpoint.rsplit(":", 1)
target = AxonInfo(version=version_as_int, ip=ip, port=int(port), ip_type=4,
                  hotkey=a.axon_hotkey, coldkey=a.axon_hotkey)


def report(name, r, value):
    print(json.dumps({"name": name, "status_code": r.dendrite.status_code,
                      "status_message": r.dendrite.status_message, "value": value}), flush=True)


async def main():
    d = bt.Dendrite(wallet=w)
    r = await d.call(target, Dummy(dummy_input=21), timeout=10, deserialize=False)
    report("Dummy", r, r.dummy_output)
    r = await d.call(target, Prompting(roles=["user"], messages=["hello", "hi"]), timeout=10,
                     deserialize=False)
    report("Prompting", r, r.completion)
    x = np.array([[1.5, -2.0, 3.0], [4.0, 5.0, 6.25]], dtype=np.float32)
    r = await d.call(target, TensorForward(inputs=bt.Tensor.serialize(x)), timeout=10,
                     deserialize=False)
    out = None
    if r.outputs is not None:
        arr = r.outputs.deserialize()
        out = {"dtype": r.outputs.dtype, "shape": list(arr.shape), "values": arr.ravel().tolist()}
    report("TensorForward", r, out)
    chunks, final = [], None
    async for item in d.call_stream(target, StreamPrompting(roles=["user"], messages=["a b c"]),
                                    timeout=10, deserialize=False):
        if isinstance(item, str):
            chunks.append(item)
        else:
            final = item
    print(json.dumps({"name": "StreamPrompting", "status_code": final.dendrite.status_code,
                      "chunks": chunks, "value": final.completion}), flush=True)
    # The high-level API: several axons at once, deserialized.
    outs = await d(axons=[target, target], synapse=Dummy(dummy_input=5), timeout=10)
    print(json.dumps({"name": "forward", "value": outs}), flush=True)
    await d.aclose_session()


asyncio.run(main())
