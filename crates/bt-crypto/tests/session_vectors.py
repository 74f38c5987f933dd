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

# Version 2: same handshake request, the caller also sends `bt-session-version: 2`. Payloads
# under 8 KiB keep the SHA-256 tensors hash; from 8 KiB on, BLAKE3 over the same fields.
info2 = lp(b'bittensor/session-key/v2') + info[len(lp(b'bittensor/session-key/v1')):]
key2 = HKDF(algorithm=hashes.SHA256(), length=32, salt=sid, info=info2).derive(dh)
def mac2(counter, digest):
    return hmac.new(key2, lp(b'bittensor/session-request/v2') + lp(sid) + struct.pack('<Q', counter)
                    + lp(digest), hashlib.sha256).digest()
d1 = req_digest(0)
big = b''.join(struct.pack('<f', float(i)) for i in range(2048))
big_fields = (struct.pack('<Q', 1) + struct.pack('<ii', 1, 0) + b'\x01'
    + struct.pack('<Q', 2) + struct.pack('<qq', 1, 2048) + lp(big))
th_big = blake3.blake3(lp(b'bittensor/tensors/v2') + big_fields).digest()
d2 = req_digest(0, th_big)
got2 = ['2.%s.%s' % (sid.hex(), a_share.hex()), key2.hex(), d1.hex(),
        '2.%s.%016x.%s' % (sid.hex(), 1, mac2(1, d1).hex()),
        th_big.hex(), d2.hex(), '2.%s.%016x.%s' % (sid.hex(), 2, mac2(2, d2).hex())]
expected2 = [
    "2.05050505050505050505050505050505.ac01b2209e86354fb853237b5de0f4fab13c7fcbf433a61c019369617fecf10b",
    "77d6166cd683f9520e8388221d6f75af5273c0a0c5371b6544532762ccc9a6e8",
    "ae58161436fd92dbb719fe6d853284e15cff86e6917975c5f8dcb1b85b53924b",
    "2.05050505050505050505050505050505.0000000000000001.3ed9398db6280fffbbc7dc90f16552173524d90127c88ed145aa002e87b2f482",
    "6cd2ac3a529b911f9e25daf32d6698d1782a04cfb441b151043be0bfc6661643",
    "dbf6200f599e793a56a73c620c69e232852502cc44a7710146f63ac2b232e3c5",
    "2.05050505050505050505050505050505.0000000000000002.52b5b35b91688f44591f99d65b4f60c0f559af47a2b9a67098a51afb3aa33fbb",
]
for g, e in zip(got2, expected2):
    assert g == e, (g, e)
print("session vectors ok")
