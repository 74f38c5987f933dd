"""Encrypted coldkeys with the real bittensor-wallet, for crates/bt-cli/tests/wallet.rs.

  open  --path P              decrypt the key file P (password in $BT_COLDKEY_PASSWORD), print its ss58
  seal  --path P --mnemonic M write M's key to P encrypted ($BT_COLDKEY_PASSWORD), print its ss58

Both print one JSON line. The password comes from the environment so it is never in argv.
"""
import argparse
import json
import os

from bittensor_wallet import Keyfile, Keypair

p = argparse.ArgumentParser()
p.add_argument("op", choices=["open", "seal"])
p.add_argument("--path", required=True)
p.add_argument("--mnemonic")
a = p.parse_args()
password = os.environ["BT_COLDKEY_PASSWORD"]

keyfile = Keyfile(path=a.path)
if a.op == "open":
    assert keyfile.is_encrypted(), "expected an encrypted key file"
    pair = keyfile.get_keypair(password=password)
    print(json.dumps({"ss58": pair.ss58_address}))
else:
    pair = Keypair.create_from_mnemonic(a.mnemonic)
    keyfile.set_keypair(pair, encrypt=True, overwrite=True, password=password)
    print(json.dumps({"ss58": pair.ss58_address}))
