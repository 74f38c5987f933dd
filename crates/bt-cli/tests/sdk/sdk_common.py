"""Synapse classes matching bt-http's built-ins, and the patches the SDK 10.5 needs offline.

Used by the interop tests (crates/bt-cli/tests/sdk_interop.rs) with a venv holding
bittensor==10.5.0 and bittensor-wallet (see .ci/run).
"""
import os
from typing import ClassVar, List, Optional


def offline():
    # Dendrite() asks web services for its external IP; there is no internet here.
    import bittensor.utils.networking as net
    net.get_external_ip = lambda: "127.0.0.1"
    # SDK 10.5 validates every bt.Tensor dtype against a table it extends with torch dtypes
    # first, so bt.Tensor fails without torch even for numpy dtypes. Skip the torch part.
    import bittensor.core.tensor as tensor
    tensor.DTypes._add_torch = lambda self: None


def synapse_classes():
    import bittensor as bt

    class Dummy(bt.Synapse):
        dummy_input: int
        dummy_output: Optional[int] = None

        def deserialize(self):
            return self.dummy_output

    class Prompting(bt.Synapse):
        roles: List[str]
        messages: List[str]
        completion: str = ""
        required_hash_fields: ClassVar[tuple] = ("messages",)

        def deserialize(self):
            return self.completion

    class TensorForward(bt.Synapse):
        inputs: Optional[bt.Tensor] = None
        outputs: Optional[bt.Tensor] = None
        required_hash_fields: ClassVar[tuple] = ("inputs",)

        def deserialize(self):
            return self.outputs

    class StreamPrompting(bt.StreamingSynapse):
        roles: List[str]
        messages: List[str]
        completion: str = ""
        required_hash_fields: ClassVar[tuple] = ("messages",)

        async def process_streaming_response(self, response):
            async for chunk in response.content.iter_any():
                text = chunk.decode("utf-8")
                self.completion += text
                yield text

        def extract_response_json(self, response):
            return {"roles": self.roles, "messages": self.messages,
                    "completion": self.completion}

        def deserialize(self):
            return self.completion

    Dummy.StreamPrompting = StreamPrompting
    return Dummy, Prompting, TensorForward


def wallet(path, name, hotkey="default"):
    from bittensor_wallet import Wallet
    return Wallet(name=name, hotkey=hotkey, path=os.path.expanduser(path))
