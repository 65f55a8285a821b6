"""PyTorch side of the forward-pass benchmark (bench/forward.ts runs it).

Usage: /usr/bin/python3 bench/torch_forward.py <job.json>
       /usr/bin/python3 bench/torch_forward.py --serve <job.json>   (paired timing, see serve())
job.json: {"threads": 1, "warmup": 3, "runs": 15, "outDir": "/tmp/...",
           "models": [{"name": "cbam-resnet50", "spec": {...NetSpec...}, "size": 224, "seed": 1,
                       "weights": "/path/model.safetensors" (optional: use these instead of random)}],
           "peak": {"n": 1024, "runs": 7}}
Per model without "weights": builds the net with tools/torchref, gives it seeded random
weights with real BatchNorm statistics, writes them to <outDir>/<name>.safetensors (the
engine loads the same file), and times the forward pass. Prints one JSON object on stdout.

Times are medians over `runs` after `warmup` runs, batch 1, torch.no_grad, float32, with
torch.set_num_threads(threads) to match the engine (the wasm backend is single-threaded
in Node). Both the plain forward and forward_with_taps (the same work the engine does: it
always computes every tap) are timed.
"""
import json
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'tools'))
from torchref import build_resnet  # noqa: E402


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        dtype = 'I64' if t.dtype == torch.int64 else 'F32'
        raw = t.numpy().astype('<i8' if dtype == 'I64' else '<f4').tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(',', ':')).encode()
    head += b' ' * (-len(head) % 8)
    tmp = path + '.part'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(head)))
        f.write(head)
        for raw in chunks:
            f.write(raw)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        dt = {'F32': np.float32, 'I64': np.int64, 'F16': np.float16, 'F64': np.float64}[info['dtype']]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt).reshape(info['shape']).copy())
    return out


def randomise(net, gen, size):
    """He-init convs (torch default is fine), BN stats from a calibration batch, then eval."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
        net.train()
        net(torch.randn((2, 3, size, size), generator=gen))
    net.eval()


def count_flops(net, size):
    """Multiply-adds of every conv and linear layer (x2 = FLOPs), by forward hooks."""
    macs = [0]

    def conv_hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        macs[0] += out.numel() * k

    def linear_hook(m, inp, out):
        macs[0] += out.numel() * m.in_features

    hooks = []
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    with torch.no_grad():
        net(torch.zeros((1, 3, size, size)))
    for h in hooks:
        h.remove()
    return 2 * macs[0]


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return {'medianMs': statistics.median(times), 'minMs': min(times), 'maxMs': max(times), 'runs': runs, 'times': times}


def bench_model(m, job):
    torch.manual_seed(m.get('seed', 1))
    gen = torch.Generator().manual_seed(m.get('seed', 1))
    net = build_resnet(m['spec'])
    size = m['size']
    weights = m.get('weights')
    if weights:
        net.load_state_dict(read_safetensors(weights))
        net.eval()
    else:
        randomise(net, gen, size)
        weights = os.path.join(job['outDir'], m['name'] + '.safetensors')
        write_safetensors(weights, net.state_dict())
    x = torch.randn((1, 3, size, size), generator=gen)
    with torch.no_grad():
        plain = timed(lambda: net(x), job['warmup'], job['runs'])
        taps = timed(lambda: net.forward_with_taps(x), job['warmup'], job['runs'])
        logits = net(x)[0]
    return {'name': m['name'], 'size': size, 'weights': weights, 'spec': net.spec, 'plain': plain, 'withTaps': taps,
            'hookFlops': count_flops(net, size), 'params': sum(p.numel() for p in net.parameters()),
            'logitsHead': logits[:5].tolist()}


def peak(job):
    """Best sustained single-precision matmul rate: n x n @ n x n, 2 n^3 FLOPs."""
    n = job.get('n', 1024)
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    r = timed(lambda: torch.mm(a, b), 2, job.get('runs', 7))
    return {'n': n, 'medianMs': r['medianMs'], 'minMs': r['minMs'],
            'gflops': 2 * n ** 3 / (r['minMs'] / 1000) / 1e9, 'gflopsMedian': 2 * n ** 3 / (r['medianMs'] / 1000) / 1e9}


def serve(path):
    """Paired timing: load every model of the job (weights must exist), print "ready", then
    answer each stdin line "<model> taps|plain" with the ms of one forward pass. The engine
    side alternates single runs with these, so both see the same machine load."""
    with open(path) as f:
        job = json.load(f)
    torch.set_num_threads(job.get('threads', 1))
    nets = {}
    for m in job['models']:
        net = build_resnet(m['spec'])
        net.load_state_dict(read_safetensors(m['weights']))
        net.eval()
        nets[m['name']] = (net, torch.randn((1, 3, m['size'], m['size'])))
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
    with torch.no_grad():
        for line in sys.stdin:
            parts = line.split()
            if not parts or parts[0] == 'quit':
                break
            net, x = nets[parts[0]]
            fn = net.forward_with_taps if parts[1:] == ['taps'] else net
            t0 = time.perf_counter()
            fn(x)
            print((time.perf_counter() - t0) * 1000, flush=True)


def main(path):
    with open(path) as f:
        job = json.load(f)
    torch.set_num_threads(job.get('threads', 1))
    os.makedirs(job.get('outDir', '.'), exist_ok=True)
    out = {'torch': torch.__version__, 'threads': torch.get_num_threads(),
           'mkldnn': torch.backends.mkldnn.is_available(), 'models': [bench_model(m, job) for m in job.get('models', [])]}
    if job.get('peak'):
        out['peak'] = peak(job['peak'])
    json.dump(out, sys.stdout)
    sys.stdout.write('\n')


if __name__ == '__main__':
    if sys.argv[1] == '--serve':
        serve(sys.argv[2])
    else:
        main(sys.argv[1])
