"""PyTorch reference of bt-nn's CIFAR model (a dual path network trunk + student, forward and
target heads), for `cifar-bench`: training steps/s and per-convolution forward+backward times on
the model's own shapes, on the same machine in the same run.

Run by the bench with the python named by --python / BT_TORCH_PYTHON; standalone:
    python torch_cifar_reference.py --steps 30 --batch 64 --threads 2 [--config cifar|tiny]

The images are random normal tensors: the speed of a step does not depend on pixel values.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONTEXT = 256
CONFIGS = {
    # stem, groups, stages of (width, out_planes, dense_depth, blocks, stride)
    "cifar": (32, 8, [(32, 48, 16, 1, 1), (64, 96, 32, 1, 2), (128, 192, 32, 1, 2)]),
    "tiny": (8, 2, [(8, 8, 4, 1, 1), (8, 12, 4, 2, 2)]),
}


class Block(nn.Module):
    def __init__(self, cin, width, out_planes, dense, stride, groups, first):
        super().__init__()
        self.out_planes = out_planes
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_planes + dense, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes + dense)
        self.shortcut = None
        if first:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, out_planes + dense, 1, stride, bias=False),
                nn.BatchNorm2d(out_planes + dense),
            )
        self.cout = (out_planes + dense if first else cin) + dense

    def forward(self, x):
        o = F.relu(self.bn1(self.conv1(x)))
        o = F.relu(self.bn2(self.conv2(o)))
        o = self.bn3(self.conv3(o))
        s = x if self.shortcut is None else self.shortcut(x)
        d = self.out_planes
        return F.relu(torch.cat([s[:, :d] + o[:, :d], s[:, d:], o[:, d:]], 1))


class Model(nn.Module):
    def __init__(self, config):
        super().__init__()
        stem, groups, stages = CONFIGS[config]
        self.stem = nn.Conv2d(3, stem, 3, 1, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(stem)
        blocks, c = [], stem
        for width, out_planes, dense, n, stride in stages:
            for i in range(n):
                b = Block(c, width, out_planes, dense, stride if i == 0 else 1, groups, i == 0)
                c = b.cout
                blocks.append(b)
        self.blocks = nn.Sequential(*blocks)
        self.student = nn.Linear(c, CONTEXT)
        self.hidden = nn.Linear(c + CONTEXT, CONTEXT)
        self.target = nn.Linear(CONTEXT, 10)

    def features(self, x):
        x = F.relu(self.stem_bn(self.stem(x)))
        return F.adaptive_avg_pool2d(self.blocks(x), 1).flatten(1)

    def student_out(self, x):
        return F.relu(self.student(self.features(x)))

    def losses(self, x, y, ctx):
        f = self.features(x)
        s = F.relu(self.student(f.detach()))
        dist = F.mse_loss(s, ctx.detach())
        head = lambda c: self.target(F.relu(self.hidden(torch.cat([f, c], 1))))
        return F.cross_entropy(head(s.detach()), y), F.cross_entropy(head(ctx), y), dist


def train_rate(model, steps, batch, warmup):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data = [(torch.randn(batch, 3, 32, 32), torch.randint(0, 10, (batch,))) for _ in range(4)]
    for i in range(steps + warmup):
        if i == warmup:
            t0 = time.perf_counter()
        x, y = data[i % len(data)]
        model.eval()
        with torch.no_grad():
            ctx = model.student_out(x)
        model.train()
        local, network, dist = model.losses(x, y, ctx)
        opt.zero_grad(set_to_none=True)
        (local + network + dist).backward()
        opt.step()
    return steps / (time.perf_counter() - t0)


def conv_times(model, batch, reps):
    """Median forward+backward time of every convolution on the input shape it sees."""
    shapes = {}

    def record(name):
        def hook(module, inputs, output):
            shapes[name] = tuple(inputs[0].shape)

        return hook

    hooks = [
        m.register_forward_hook(record(name))
        for name, m in model.named_modules()
        if isinstance(m, nn.Conv2d)
    ]
    with torch.no_grad():
        model.features(torch.randn(batch, 3, 32, 32))
    for h in hooks:
        h.remove()
    out = []
    for name, m in model.named_modules():
        if not isinstance(m, nn.Conv2d):
            continue
        x = torch.randn(*shapes[name], requires_grad=True)
        g = torch.randn_like(m(x))
        times = []
        for i in range(reps + 2):
            t0 = time.perf_counter()
            y = m(x)
            y.backward(g)
            if i >= 2:
                times.append(time.perf_counter() - t0)
            x.grad = None
            m.weight.grad = None
        out.append((name, statistics.median(times) * 1e3))
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--config", default="cifar")
    p.add_argument("--conv-reps", type=int, default=10)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Model(a.config)
    for name, ms in conv_times(model, a.batch, a.conv_reps):
        print(f"pytorch conv {name} {ms:.3f} ms")
    rate = train_rate(model, a.steps, a.batch, warmup=3)
    print(f"pytorch {torch.__version__} train: {a.steps} steps, batch {a.batch}, threads {a.threads} = {rate:.3f} steps/s")


if __name__ == "__main__":
    main()
