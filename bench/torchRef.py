"""PyTorch's time for what bench/gpuBench.ts times: CBAM ResNet-50 (tools/torchref, the
official layout, seeded weights), forward pass with every tap read back to the host, eager
mode, at the sizes and batches given. On CUDA when torch sees a GPU, else on the CPU (and
says so). Prints one JSON object: {"torch", "device", "rows": [{input, batch, ms}]}.

  python3 bench/torchRef.py [--sizes 224,896] [--batches 1,32] [--passes 20]
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tools'))
from torchref import build_resnet  # noqa: E402

SPEC = {'family': 'resnet', 'depth': 50, 'block': 'bottleneck', 'baseWidth': 64, 'stem': 'imagenet',
        'attention': {'kind': 'cbam', 'layout': 'official', 'reduction': 16, 'attr': 'cbam'},
        'inserts': [], 'numClasses': 1000, 'layers': [3, 4, 6, 3]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--sizes', default='224,896')
    p.add_argument('--batches', default='1,32')
    p.add_argument('--passes', type=int, default=20)
    a = p.parse_args()
    torch.manual_seed(0)
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    net = build_resnet(SPEC).eval().to(device)
    rows = []
    with torch.no_grad():
        for size in [int(s) for s in a.sizes.split(',')]:
            for batch in [int(b) for b in a.batches.split(',')]:
                x = torch.randn(batch, 3, size, size, device=device)
                times = []
                for i in range(3 + a.passes):
                    if device.type == 'cuda':
                        torch.cuda.synchronize()
                    t0 = time.perf_counter()
                    logits, taps = net.forward_with_taps(x)
                    host = [logits.cpu()] + [t.cpu() for t in taps.values()]  # read back, as the engine does
                    if i >= 3:
                        times.append((time.perf_counter() - t0) * 1000)
                    del host
                times.sort()
                rows.append({'input': size, 'batch': batch, 'ms': round(times[len(times) // 2], 2), 'taps': len(taps)})
                print(json.dumps(rows[-1]), file=sys.stderr)
    name = torch.cuda.get_device_name(0) if device.type == 'cuda' else f'CPU, {torch.get_num_threads()} threads'
    print(json.dumps({'torch': torch.__version__, 'device': name, 'cuda': device.type == 'cuda', 'rows': rows}))


if __name__ == '__main__':
    main()
