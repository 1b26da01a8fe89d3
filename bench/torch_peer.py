"""PyTorch's side of `npm run bench -- --peer torch` (bench/run.ts starts it; never run by tests).

    python3 bench/torch_peer.py WORKLOAD --threads N --runs R

Prints one JSON line: {"workload": ..., "ms": median over R runs after warm-up, "threads": N}.
The workloads are bench/run.ts's, built the way a PyTorch user would write them (NCHW
convolutions, torch.optim): mlp_train_step, cnn_train_step, conv3x3_train_step, matmul_1024,
cnn_infer_b1, and bench/control_flow.ts's lstm_train_step.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def deep_mnist() -> nn.Module:
    # examples/mnist-cnn's buildCnn: two 5x5 'same' convolutions (32, 64 filters) with ReLU and 2x2
    # max pooling, a 1024-unit dense layer with dropout 0.5, 10 logits.
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(7 * 7 * 64, 1024),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(1024, 10),
    )


def train_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor):
    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        # weir's step fetches the loss: read it back here too.
        return loss.item()

    return step


def workload(name: str):
    g = torch.Generator().manual_seed(0)
    if name == "mlp_train_step":
        b = 128
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))
        x = torch.rand(b, 784, generator=g)
        y = torch.randint(0, 10, (b,), generator=g)
        return train_step(model, torch.optim.SGD(model.parameters(), lr=0.01), x, y)
    if name == "cnn_train_step":
        b = 64
        model = deep_mnist().train()
        x = torch.rand(b, 1, 28, 28, generator=g)
        y = torch.randint(0, 10, (b,), generator=g)
        return train_step(model, torch.optim.Adam(model.parameters(), lr=1e-3), x, y)
    if name == "conv3x3_train_step":
        # A VGG-style block: two 3x3 'same' convolutions of 64 filters with ReLU, the output's mean as the loss.
        b = 32
        model = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU())
        x = torch.rand(b, 64, 32, 32, generator=g)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)

        def step() -> float:
            opt.zero_grad(set_to_none=True)
            loss = model(x).mean()
            loss.backward()
            opt.step()
            return loss.item()

        return step
    if name == "cnn_infer_b1":
        model = deep_mnist().eval()
        x = torch.rand(1, 1, 28, 28, generator=g)

        def infer():
            with torch.no_grad():
                return model(x).numpy()

        return infer
    if name == "lstm_train_step":
        # bench/control_flow.ts's LSTM_LM: an embedding, two 256-unit LSTM layers over 50 steps, a
        # softmax layer over 65 symbols, batch 32, Adam.
        b, t, v, e, h = 32, 50, 65, 64, 256
        emb, lstm, out = nn.Embedding(v, e), nn.LSTM(e, h, num_layers=2, batch_first=True), nn.Linear(h, v)
        params = [*emb.parameters(), *lstm.parameters(), *out.parameters()]
        opt = torch.optim.Adam(params, lr=0.002)
        x = torch.randint(0, v, (b, t), generator=g)
        y = torch.randint(0, v, (b * t,), generator=g)

        def step() -> float:
            opt.zero_grad(set_to_none=True)
            hs, _ = lstm(emb(x))
            loss = F.cross_entropy(out(hs).reshape(b * t, v), y)
            loss.backward()
            opt.step()
            return loss.item()

        return step
    if name == "matmul_1024":
        a = torch.rand(1024, 1024, generator=g) * 2 - 1
        c = torch.rand(1024, 1024, generator=g) * 2 - 1
        return lambda: torch.mm(a, c)
    raise SystemExit(f"unknown workload {name}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("workload")
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--warmup-ms", type=float, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    fn = workload(a.workload)
    warm_until = time.perf_counter() + a.warmup_ms / 1000
    done = 0
    while done < a.warmup or time.perf_counter() < warm_until:
        fn()
        done += 1
    times = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"workload": a.workload, "ms": statistics.median(times), "threads": torch.get_num_threads(), "version": torch.__version__}))


if __name__ == "__main__":
    main()
