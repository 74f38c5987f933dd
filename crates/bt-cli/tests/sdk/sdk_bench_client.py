"""The SDK 10.5 Dendrite as a load generator for the synapse benchmark
(crates/bt-cli/benches/synapse_http.rs): Dummy against the axon at --endpoint, first
--seq sequential calls (latency), then --conc calls in flight for --seconds (throughput) with
one shared Dendrite. Prints one JSON line: p50_ms, p90_ms, rps, ok, failed."""
import argparse
import asyncio
import json
import statistics
import time

from sdk_common import offline, synapse_classes, wallet

p = argparse.ArgumentParser()
p.add_argument("--wallet_path", required=True)
p.add_argument("--wallet_name", required=True)
p.add_argument("--endpoint", required=True)
p.add_argument("--axon_hotkey", required=True)
p.add_argument("--seq", type=int, default=200)
p.add_argument("--conc", type=int, default=64)
p.add_argument("--seconds", type=float, default=5.0)
a = p.parse_args()

offline()
import bittensor as bt  # noqa: E402
from bittensor.core.chain_data import AxonInfo  # noqa: E402
from bittensor.core.settings import version_as_int  # noqa: E402

Dummy, _, _ = synapse_classes()
ip, port = a.endpoint.rsplit(":", 1)
target = AxonInfo(version=version_as_int, ip=ip, port=int(port), ip_type=4,
                  hotkey=a.axon_hotkey, coldkey=a.axon_hotkey)


async def main():
    d = bt.Dendrite(wallet=wallet(a.wallet_path, a.wallet_name))
    for i in range(20):  # warm-up: connection, imports, caches
        await d.call(target, Dummy(dummy_input=i), timeout=10, deserialize=False)
    lat, failed = [], 0
    for i in range(a.seq):
        t0 = time.perf_counter()
        r = await d.call(target, Dummy(dummy_input=i), timeout=10, deserialize=False)
        lat.append((time.perf_counter() - t0) * 1e3)
        failed += not (r.is_success and r.dummy_output == 2 * i)
    d.synapse_history.clear()
    ok = 0
    deadline = time.perf_counter() + a.seconds

    async def worker(k):
        nonlocal ok, failed
        i = k * 1_000_000
        while time.perf_counter() < deadline:
            i += 1
            r = await d.call(target, Dummy(dummy_input=i), timeout=12, deserialize=False)
            if r.is_success and r.dummy_output == 2 * i:
                ok += 1
            else:
                failed += 1
        d.synapse_history.clear()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(a.conc)))
    elapsed = time.perf_counter() - t0
    lat.sort()
    print(json.dumps({"p50_ms": statistics.median(lat), "p90_ms": lat[int(0.9 * (len(lat) - 1))],
                      "rps": ok / elapsed, "ok": ok, "failed": failed}), flush=True)
    await d.aclose_session()


asyncio.run(main())
