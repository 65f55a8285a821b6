"""Writes test/fixtures/<case>/channelMaps.safetensors: every attention module's INPUT
features [C, H, W] for the case's expected run (its input, its bypass set), computed in
float64 by tools/torchref from the case's float32 weights, stored as float32. This is
what the engine's `channelMap` request answers, one channel at a time.

Run from the repository root:  /usr/bin/python3 tools/make_channel_maps.py [case ...]
(default: bypass, whose bypassed layer2.0.cbam and nl3 check that a bypassed module's
input is still the one it received).
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import OUT, write_safetensors  # noqa: E402
from torchref import build_resnet  # noqa: E402


def make(name):
    d = os.path.join(OUT, name)
    with open(os.path.join(d, 'case.json')) as f:
        case = json.load(f)
    state = torch.load(os.path.join(d, 'model.pth'))
    ref = build_resnet(case['spec']).double().eval()
    ref.load_state_dict({k: v.double() if v.is_floating_point() else v for k, v in state.items()})
    x = read_input(os.path.join(d, 'expected.safetensors'))
    inputs = {}
    hooks = [m.register_forward_pre_hook(lambda m, args, name=name: inputs.__setitem__(name, args[0][0].float().contiguous()))
             for name, m in ref.attention_modules().items()]
    try:
        with torch.no_grad():
            ref.forward_with_taps(x.double(), bypass=case['bypass'])
    finally:
        for h in hooks:
            h.remove()
    write_safetensors(os.path.join(d, 'channelMaps.safetensors'), inputs, {'case': name})
    print(f'{name}: ' + ', '.join(f'{k} {list(v.shape)}' for k, v in inputs.items()))


def read_input(path):
    """The `input` tensor of an expected.safetensors (F32)."""
    import struct
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        info = header['input']
        start, end = info['data_offsets']
        f.seek(8 + n + start)
        raw = f.read(end - start)
    return torch.frombuffer(bytearray(raw), dtype=torch.float32).reshape(info['shape'])


if __name__ == '__main__':
    torch.set_num_threads(1)
    for case in sys.argv[1:] or ['bypass']:
        make(case)
