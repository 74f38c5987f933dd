"""Trains the PyTorch reference of bt-nn's CIFAR model (bench/torch_cifar_reference.py's Model)
on CIFAR-10 binary batches, with bt-nn's losses, optimizer and evaluation: a neuron alone
(the context is its own student output, computed in eval mode), SGD with momentum, test accuracy
through the local path with running statistics. It is the yardstick for `cifar-train`: dump the
generated set with `cifar-train --dump DIR`, then

    python torch_cifar_train.py DIR [--config cifar|tiny] [--epochs 4] [--lr 0.05] [--batch 64]

With `--trace TDIR` it instead replays `cifar-train --trace TDIR`: loads TDIR/before.safetensors,
runs the same SGD steps on the same batches and prints, per tensor, the largest difference from
TDIR/after.safetensors relative to the tensor's scale.
"""
import json
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_cifar_reference import Model  # noqa: E402

MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32).reshape(1, 3, 1, 1)
STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32).reshape(1, 3, 1, 1)


def read(path):
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
    x = raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0
    return torch.from_numpy((x - MEAN) / STD), torch.from_numpy(raw[:, 0].astype(np.int64))


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    kinds = {"F32": np.float32, "I64": np.int64}
    return {
        k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=kinds[v["dtype"]])
        .reshape(v["shape"])
        for k, v in header.items() if k != "__metadata__"
    }


def trace(a, model, xtr, ytr):
    before = read_safetensors(os.path.join(a.trace, "before.safetensors"))
    after = read_safetensors(os.path.join(a.trace, "after.safetensors"))
    state = {k: torch.from_numpy(before[k].copy()) for k in model.state_dict()
             if not k.endswith("num_batches_tracked")}
    model.load_state_dict(state, strict=False)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)
    for i in range(a.steps):
        x, y = xtr[i * a.batch:(i + 1) * a.batch], ytr[i * a.batch:(i + 1) * a.batch]
        model.eval()
        with torch.no_grad():
            ctx = model.student_out(x)
        model.train()
        local, network, dist = model.losses(x, y, ctx)
        print(f"torch step {i}: local {local.item():.6f} network {network.item():.6f} "
              f"distillation {dist.item():.6f}")
        opt.zero_grad(set_to_none=True)
        (local + network + dist).backward()
        opt.step()
    worst = []
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        ours = after[k]
        t = v.numpy()
        moved = np.abs(t - before[k]).max()
        diff = np.abs(t - ours).max()
        worst.append((diff / (moved + 1e-12), k, diff, moved))
    for rel, k, diff, moved in sorted(worst, reverse=True)[:15]:
        print(f"{k:32s} max|torch-ours| {diff:.3e}  max|step| {moved:.3e}  ratio {rel:.3e}")


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        correct = sum(
            (model.target(F.relu(model.hidden(torch.cat([f, F.relu(model.student(f))], 1))))
             .argmax(1) == y[i:i + 250]).sum().item()
            for i in range(0, len(y), 250)
            for f in [model.features(x[i:i + 250])]
        )
    return correct / len(y)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--config", default="cifar")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trace")
    p.add_argument("--steps", type=int, default=3)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = read(os.path.join(a.dir, "data_batch_1.bin"))
    xte, yte = read(os.path.join(a.dir, "test_batch.bin"))
    model = Model(a.config)
    if a.trace:
        return trace(a, model, xtr, ytr)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)
    print(f"{len(ytr)} train, {len(yte)} test, lr {a.lr}, batch {a.batch}, {a.epochs} epochs")
    step, t0, window = 0, time.time(), []
    for epoch in range(a.epochs):
        order = torch.randperm(len(ytr))
        for i in range(0, len(ytr) - a.batch + 1, a.batch):
            idx = order[i:i + a.batch]
            x, y = xtr[idx], ytr[idx]
            model.eval()
            with torch.no_grad():
                ctx = model.student_out(x)
            model.train()
            local, network, dist = model.losses(x, y, ctx)
            opt.zero_grad(set_to_none=True)
            (local + network + dist).backward()
            opt.step()
            step += 1
            window.append(local.item())
            if step % a.eval_every == 0:
                acc = accuracy(model, xte, yte)
                print(f"step {step} local loss {np.mean(window):.4f} test acc {acc:.4f} "
                      f"({time.time() - t0:.0f} s)", flush=True)
                window = []
        print(f"epoch {epoch + 1} done: test acc {accuracy(model, xte, yte):.4f}", flush=True)


if __name__ == "__main__":
    main()
