"""Independent check of the HTTP session test vector of docs/protocol.md ("Sessions over HTTP",
"Test vector") with hashlib, hmac and pyca/cryptography, written from the document, not from
the Rust code. The SS58 addresses are inputs here (sr25519 is not in pyca/cryptography); the
wallet vectors of the same document check how they follow from the seeds.

    python3 crates/bt-crypto/tests/http_session_vectors.py   # prints "http session vectors ok"
"""
import hashlib, hmac, struct
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes, serialization as ser

def lp(b): return struct.pack('<Q', len(b)) + b
def sha(b): return hashlib.sha256(b).digest()
def raw(pub): return pub.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)

dendrite = "5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH"  # sr25519 seed 01 x 32
axon = "5CfCr47V5Dte6bwxNBE8K9oNnQd9fiay6aDEEkgYtFv7w4Fq"      # sr25519 seed 02 x 32
endpoint = b"127.0.0.1:8091"
uuid = b"0f8fad5b-d9cb-469f-a165-70867728950e"
body_hash = hashlib.sha3_256(b"").hexdigest().encode()  # Dummy has no required hash fields
answer_body = b'{"dummy_input":3,"dummy_output":6}'

def request_digest(nonce):
    fields = (struct.pack('<q', nonce) + lp(dendrite.encode()) + lp(axon.encode()) + lp(uuid)
              + lp(body_hash))
    return sha(lp(b"bittensor/http-session-request/v1") + fields)

hs = request_digest(1700000000000000000)
cs = X25519PrivateKey.from_private_bytes(b'\x03' * 32)
c_share = raw(cs.public_key())
offer = sha(lp(b"bittensor/http-session-offer/v1") + lp(hs) + lp(endpoint) + lp(c_share))
ctx = b"http/" + axon.encode() + b"@" + endpoint
a_share = raw(X25519PrivateKey.from_private_bytes(b'\x04' * 32).public_key())
sid = b'\x05' * 16
dh = cs.exchange(X25519PrivateKey.from_private_bytes(b'\x04' * 32).public_key())
info = (lp(b"bittensor/session-key/v2") + lp(c_share) + lp(a_share) + lp(dendrite.encode())
        + lp(ctx))
key = HKDF(algorithm=hashes.SHA256(), length=32, salt=sid, info=info).derive(dh)

def mac(counter, digest):
    return hmac.new(key, lp(b"bittensor/session-request/v2") + lp(sid) + struct.pack('<Q', counter)
                    + lp(digest), hashlib.sha256).digest()

d1 = request_digest(1700000000001000000)
answer = sha(lp(b"bittensor/http-session-answer/v1") + struct.pack('<Q', 200) + lp(sha(answer_body))
             + lp(d1))
got = [dendrite, axon, hs.hex(), offer.hex(), ctx.decode(), c_share.hex(),
       '2.%s.%s' % (sid.hex(), a_share.hex()), key.hex(), d1.hex(),
       '2.%s.%016x.%s' % (sid.hex(), 1, mac(1, d1).hex()), answer.hex(), mac(1, answer).hex()]
expected = [
    "5CcyqxXnJucaCnQQvvUg5EPzj1uoNAxACZvzArHw5aVDvgNH",
    "5CfCr47V5Dte6bwxNBE8K9oNnQd9fiay6aDEEkgYtFv7w4Fq",
    "1db4b156cb6c9275d058da84062c9cfa28d1c8a604a677880cf0ed627e2a6d9c",
    "1e1d536955063c83c03b7695ff083a834324214560219471ba8b005f9b5386c4",
    "http/5CfCr47V5Dte6bwxNBE8K9oNnQd9fiay6aDEEkgYtFv7w4Fq@127.0.0.1:8091",
    "5dfedd3b6bd47f6fa28ee15d969d5bb0ea53774d488bdaf9df1c6e0124b3ef22",
    "2.05050505050505050505050505050505.ac01b2209e86354fb853237b5de0f4fab13c7fcbf433a61c019369617fecf10b",
    "92850ceb4db8df78fc9d5bf39088feff1bfdb60e8a95f8dd5404e3816d0ecb8d",
    "12a06aed3ed18fbe336633218af2acd134f539630fc8c0a52ad4888eca55df68",
    "2.05050505050505050505050505050505.0000000000000001.0afcefb64443cd4b50c82da8132f0ea94a4f47ac39b6d5e4c107ab6c74a16983",
    "bd969a414460a07c51366f4a9c6eb99b0ad3084b6c8f4fa6ae2f766dea5372d1",
    "c98c4c2b46391fe98a74fce9cceb9ffdfefcc91c32dc3885a6a6212ed06b713f",
]
for g, e in zip(got, expected):
    assert g == e, (g, e)
assert len(got) == len(expected)
print("http session vectors ok")
