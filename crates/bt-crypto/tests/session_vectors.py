"""Independent check of the session test vectors of docs/protocol.md ("Sessions", versions 1
and 2) with pyca/cryptography, hashlib and the `blake3` package, written from the document, not
from the Rust code.

    python3 crates/bt-crypto/tests/session_vectors.py   # prints "session vectors ok"
"""
import hashlib, hmac, struct
import blake3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes, serialization as ser

def lp(b): return struct.pack('<Q', len(b)) + b
def raw(pub): return pub.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
caller = Ed25519PrivateKey.from_private_bytes(b'\x01'*32)
caller_hex = '0x' + raw(caller.public_key()).hex()
syn_hex = '0x' + raw(Ed25519PrivateKey.from_private_bytes(b'\x02'*32).public_key()).hex()
buf = b''.join(struct.pack('<f', v) for v in [1.0, 2.0, 3.0, 4.0])
tensors_fields = (struct.pack('<Q', 1) + struct.pack('<ii', 1, 0) + b'\x01'
    + struct.pack('<Q', 2) + struct.pack('<qq', 2, 2) + lp(buf))
th = hashlib.sha256(lp(b'bittensor/tensors/v1') + tensors_fields).digest()
def req_digest(nonce, th=th):
    return hashlib.sha256(lp(b'bittensor/tensor-request/v1') + lp(b'Forward') + lp(caller_hex.encode())
        + lp(syn_hex.encode()) + struct.pack('<q', nonce) + lp(th)).digest()
d = req_digest(1700000000000000000)
assert d.hex() == '6940cdd792ae49cdb8960e9608aa0bbded352c7db73d3e611d7de1c4defe4b7b'
cs = X25519PrivateKey.from_private_bytes(b'\x03'*32); c_share = raw(cs.public_key())
od = hashlib.sha256(lp(b'bittensor/session-offer/v1') + lp(d) + lp(c_share)).digest()
sig = caller.sign(od)
axs = X25519PrivateKey.from_private_bytes(b'\x04'*32); a_share = raw(axs.public_key())
sid = b'\x05'*16
dh = cs.exchange(X25519PrivateKey.from_private_bytes(b'\x04'*32).public_key())
info = lp(b'bittensor/session-key/v1') + lp(c_share) + lp(a_share) + lp(caller_hex.encode()) + lp(syn_hex.encode())
key = HKDF(algorithm=hashes.SHA256(), length=32, salt=sid, info=info).derive(dh)
d1 = req_digest(0)
mac = hmac.new(key, lp(b'bittensor/session-request/v1') + lp(sid) + struct.pack('<Q', 1) + lp(d1), hashlib.sha256).digest()
got = [c_share.hex(), od.hex(), '1.%s.%s' % (c_share.hex(), sig.hex()), a_share.hex(),
       '1.%s.%s' % (sid.hex(), a_share.hex()), key.hex(), d1.hex(),
       '1.%s.%016x.%s' % (sid.hex(), 1, mac.hex())]
expected = [
    "5dfedd3b6bd47f6fa28ee15d969d5bb0ea53774d488bdaf9df1c6e0124b3ef22",
    "450c0c76c8321774630edda2c8ad1486ec63ac43f68036d10f42b77f8a5db855",
    "1.5dfedd3b6bd47f6fa28ee15d969d5bb0ea53774d488bdaf9df1c6e0124b3ef22.78fd964c48fe6c52605f01add1aa67cfbdb7be499f1eb31a9c997ae83491723ebf565360d93be5094fbd96fe6137e92acdedb49dcf88b60aa849454aff93e400",
    "ac01b2209e86354fb853237b5de0f4fab13c7fcbf433a61c019369617fecf10b",
    "1.05050505050505050505050505050505.ac01b2209e86354fb853237b5de0f4fab13c7fcbf433a61c019369617fecf10b",
    "2439292203a3171972e7451b55372b707ca052875d0d938d10e9a2d63a99bafb",
    "ae58161436fd92dbb719fe6d853284e15cff86e6917975c5f8dcb1b85b53924b",
    "1.05050505050505050505050505050505.0000000000000001.6092f42ace9b5695f94515f1e054e6ef6b71fa01a478d3d561317ba58c0f9331",
]
for g, e in zip(got, expected):
    assert g == e, (g, e)

# Version 2: same handshake request, the caller also sends `bt-session-version: 2`.
th2 = blake3.blake3(lp(b'bittensor/tensors/v2') + tensors_fields).digest()
info2 = lp(b'bittensor/session-key/v2') + info[len(lp(b'bittensor/session-key/v1')):]
key2 = HKDF(algorithm=hashes.SHA256(), length=32, salt=sid, info=info2).derive(dh)
d2 = req_digest(0, th2)
mac2 = hmac.new(key2, lp(b'bittensor/session-request/v2') + lp(sid) + struct.pack('<Q', 1) + lp(d2),
                hashlib.sha256).digest()
got2 = [th2.hex(), '2.%s.%s' % (sid.hex(), a_share.hex()), key2.hex(), d2.hex(),
        '2.%s.%016x.%s' % (sid.hex(), 1, mac2.hex())]
expected2 = [
    "ee912f4ff9964d3334dc95ee488f8154a83a05bf84c4005788eebd7b71d251f0",
    "2.05050505050505050505050505050505.ac01b2209e86354fb853237b5de0f4fab13c7fcbf433a61c019369617fecf10b",
    "77d6166cd683f9520e8388221d6f75af5273c0a0c5371b6544532762ccc9a6e8",
    "1bbdaedadcf5a48a89d7116aeb5e73041a000c75de1c23596422e1bf8047ca3b",
    "2.05050505050505050505050505050505.0000000000000001.db1083a6cd66eae628e7fea077c20dd51a5bc51e719c1130a70c6a49feb39b3a",
]
for g, e in zip(got2, expected2):
    assert g == e, (g, e)
print("session vectors ok")
