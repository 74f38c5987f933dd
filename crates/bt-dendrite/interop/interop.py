#!/usr/bin/env python3
"""Interoperability with an independent gRPC stack (Python grpcio), from the Release 1 schema.

The client and server code is generated at run time from `crates/bt-wire/proto/bittensor.proto`
with grpcio-tools, exactly as a Release 1 peer would have done; nothing is shared with the Rust
code but the schema (and, for signed requests, the digest layout of bt-crypto, re-implemented
here from its specification with PyNaCl).

    interop.py client PORT SYNAPSE_KEY [--seed HEX32]
        Calls our axon's Forward with a float32 tensor and with a pickled list of strings
        (pickle protocol 3, as Release 1 sent text), and Backward with [inputs, grads]; checks the
        echoed answers. With --seed, signs every request with that Ed25519 seed.
    interop.py server
        Serves the Release 1 `Bittensor` service with grpcio on 127.0.0.1:0, prints `port N`,
        and serves until stdin closes. Forward: float tensors are echoed; a TEXT tensor (pickled
        list of str) is answered with float32 [n, 1] holding each string's length. Backward:
        returns the first tensor. For every request the server prints (and puts in the answer's
        `version`) the deadline it saw: `remaining=<seconds>` (from grpc-timeout) or
        `remaining=none`.

Requires: pip install grpcio grpcio-tools numpy (pynacl for --seed).
Exit status 0 on success; failures print a reason to stderr and exit 1.
"""

import hashlib
import os
import pickle
import struct
import sys
import tempfile
import threading
import time
from concurrent import futures

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "bt-wire", "proto"))

FLOAT32, UTF8 = 1, 5
TENSOR, TEXT = 0, 2
MAX_MESSAGE = 64 << 20
GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_receive_message_length", MAX_MESSAGE),
]


def generate():
    """Compile the schema into a temporary package and import it."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="bt_interop_")
    proto = os.path.join(PROTO_DIR, "bittensor.proto")
    args = ["protoc", f"-I{PROTO_DIR}", f"--python_out={out}", f"--grpc_python_out={out}", proto]
    if protoc.main(args) != 0:
        fail(f"grpc_tools.protoc failed on {proto}")
    sys.path.insert(0, out)
    import bittensor_pb2
    import bittensor_pb2_grpc

    return bittensor_pb2, bittensor_pb2_grpc


def fail(msg):
    print(f"interop: FAIL: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


# --- Request signatures (bt-crypto's layout, re-implemented) -----------------------------------
# Transcript: SHA-256 over a tag and fields; variable-length fields are u64-LE length + bytes,
# integers fixed-width little-endian.

TENSORS_TAG = b"bittensor/tensors/v1"
REQUEST_TAG = b"bittensor/tensor-request/v1"


class Transcript:
    def __init__(self, tag):
        self.h = hashlib.sha256()
        self.bytes(tag)

    def bytes(self, b):
        self.h.update(struct.pack("<Q", len(b)))
        self.h.update(b)
        return self

    def u64(self, v):
        self.h.update(struct.pack("<Q", v))
        return self

    def i64(self, v):
        self.h.update(struct.pack("<q", v))
        return self

    def i32(self, v):
        self.h.update(struct.pack("<i", v))
        return self

    def u8(self, v):
        self.h.update(struct.pack("<B", v))
        return self

    def finish(self):
        return self.h.digest()


def tensors_hash(tensors):
    t = Transcript(TENSORS_TAG).u64(len(tensors))
    for x in tensors:
        t.i32(x.dtype).i32(x.modality).u8(1 if x.requires_grad else 0).u64(len(x.shape))
        for d in x.shape:
            t.i64(d)
        t.bytes(x.buffer)
    return t.finish()


def request_digest(caller_hex, synapse_key, nonce, payload_hash, method):
    t = Transcript(REQUEST_TAG)
    t.bytes(method.encode()).bytes(caller_hex.encode()).bytes(synapse_key.encode())
    t.i64(nonce).bytes(payload_hash)
    return t.finish()


class Signer:
    def __init__(self, seed_hex):
        from nacl.signing import SigningKey

        self.key = SigningKey(bytes.fromhex(seed_hex))
        self.public_hex = "0x" + bytes(self.key.verify_key).hex()
        self.last = 0

    def nonce(self):
        self.last = max(time.time_ns(), self.last + 1)
        return self.last

    def sign(self, msg, method):
        msg.neuron_key = self.public_hex
        msg.nounce = self.nonce()
        digest = request_digest(
            msg.neuron_key, msg.synapse_key, msg.nounce, tensors_hash(msg.tensors), method
        )
        msg.signature = self.key.sign(digest).signature


# --- Client: call our axon -------------------------------------------------------------------


def float_tensor(pb2, array, modality=TENSOR):
    a = np.ascontiguousarray(array, dtype="<f4")
    return pb2.Tensor(
        version="0.0.0", buffer=a.tobytes(), shape=list(a.shape), dtype=FLOAT32, modality=modality
    )


def text_tensor(pb2, strings):
    return pb2.Tensor(
        version="0.0.0",
        buffer=pickle.dumps(list(strings), protocol=3),
        shape=[len(strings), 1],
        dtype=UTF8,
        modality=TEXT,
    )


def run_client(port, synapse_key, seed):
    import grpc

    pb2, pb2_grpc = generate()
    signer = Signer(seed) if seed else None
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=GRPC_OPTIONS)
    stub = pb2_grpc.BittensorStub(channel)

    def call(rpc, method, tensors):
        msg = pb2.TensorMessage(version="0.0.0", synapse_key=synapse_key, tensors=tensors)
        if signer:
            signer.sign(msg, method)
        try:
            return rpc(msg, timeout=10)
        except grpc.RpcError as e:
            fail(f"{method}: {e.code()} {e.details()}")

    # 1. float32 tensor, echoed bit for bit.
    x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4) / 7
    resp = call(stub.Forward, "Forward", [float_tensor(pb2, x)])
    if len(resp.tensors) != 1:
        fail(f"Forward float: {len(resp.tensors)} tensors in the answer")
    y = resp.tensors[0]
    got = np.frombuffer(y.buffer, dtype="<f4").reshape(list(y.shape))
    if y.dtype != FLOAT32 or not np.array_equal(got, x):
        fail(f"Forward float: answer differs (dtype {y.dtype}, shape {list(y.shape)})")
    print("forward float32: ok", flush=True)

    # 1b. 1 MiB: our axon sends a large buffer's field after the tensor's other fields.
    big = np.arange(256 * 1024, dtype=np.float32).reshape(256, 1024) / 3
    resp = call(stub.Forward, "Forward", [float_tensor(pb2, big)])
    y = resp.tensors[0]
    got = np.frombuffer(y.buffer, dtype="<f4").reshape(list(y.shape))
    if y.dtype != FLOAT32 or not np.array_equal(got, big):
        fail(f"Forward 1 MiB: answer differs (dtype {y.dtype}, shape {list(y.shape)})")
    print("forward float32 1 MiB: ok", flush=True)

    # 2. Release 1 text: a pickled list of str.
    strings = ["hello", "wörld", "", "tensor ✓"]
    resp = call(stub.Forward, "Forward", [text_tensor(pb2, strings)])
    y = resp.tensors[0]
    echoed = pickle.loads(y.buffer)  # our own server's answer in a test: trusted
    if y.dtype != UTF8 or echoed != strings or list(y.shape) != [len(strings), 1]:
        fail(f"Forward text: got {echoed!r} shape {list(y.shape)}")
    print("forward pickled text: ok", flush=True)

    # 3. Backward: [inputs, grads] in, gradients out.
    g = np.full((2, 3, 4), 0.25, dtype=np.float32)
    resp = call(stub.Backward, "Backward", [float_tensor(pb2, x), float_tensor(pb2, g)])
    if len(resp.tensors) != 1:
        fail(f"Backward: {len(resp.tensors)} tensors in the answer")
    got = np.frombuffer(resp.tensors[0].buffer, dtype="<f4")
    if got.size != g.size:
        fail(f"Backward: answer has {got.size} elements, expected {g.size}")
    print("backward: ok", flush=True)

    # 4. A malformed request gets a status, not a dropped connection.
    bad = pb2.Tensor(buffer=b"\x00" * 3, shape=[1, 1], dtype=FLOAT32, modality=TENSOR)
    msg = pb2.TensorMessage(synapse_key=synapse_key, tensors=[bad])
    if signer:
        signer.sign(msg, "Forward")
    try:
        stub.Forward(msg, timeout=10)
        fail("malformed tensor was accepted")
    except grpc.RpcError as e:
        print(f"malformed tensor refused: {e.code()}", flush=True)
    print("client: all ok", flush=True)


# --- Server: called by our dendrite ---------------------------------------------------------


def run_server():
    import grpc

    pb2, pb2_grpc = generate()

    def remaining(context):
        r = context.time_remaining()
        seen = "remaining=none" if r is None else f"remaining={r:.6f}"
        # One line per request on stdout, for the driving test to check the deadline.
        print(seen, flush=True)
        return seen

    class Echo(pb2_grpc.BittensorServicer):
        def Forward(self, request, context):
            out = []
            for t in request.tensors:
                if t.modality == TEXT and t.dtype == UTF8:
                    # Read our pickle with Python's own unpickler (the interop point).
                    strings = pickle.loads(t.buffer)
                    lengths = np.array([[len(s)] for s in strings], dtype=np.float32)
                    out.append(float_tensor(pb2, lengths))
                else:
                    out.append(t)
            return pb2.TensorMessage(
                version=remaining(context), synapse_key=request.synapse_key, tensors=out
            )

        def Backward(self, request, context):
            return pb2.TensorMessage(
                version=remaining(context),
                synapse_key=request.synapse_key,
                tensors=list(request.tensors[:1]),
            )

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=GRPC_OPTIONS)
    pb2_grpc.add_BittensorServicer_to_server(Echo(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"port {port}", flush=True)
    done = threading.Event()

    def watch_stdin():
        while sys.stdin.readline():
            pass
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    done.wait()
    server.stop(grace=1)


def main(argv):
    if len(argv) >= 2 and argv[1] == "server":
        run_server()
    elif len(argv) >= 4 and argv[1] == "client":
        seed = None
        if "--seed" in argv:
            seed = argv[argv.index("--seed") + 1]
        run_client(int(argv[2]), argv[3], seed)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)
