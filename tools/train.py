"""Train the built-in model on the generated scenes and export it for the engine.

    /usr/bin/python3 tools/train.py [--epochs N] [--data tools/data/scenes]

Logs one line per epoch to tools/train_log.txt, keeps the latest state in
tools/data/checkpoint.pt (so a run cut short can still be exported with --export-only),
and writes assets/models/<name>/model.safetensors + manifest.json.

The built-in model is trained in two phases (tools/build_model.sh): first with
torchvision's stage strides (--strides 1,2,2,2, output stride 32, the cheap network),
then fine-tuned with --init at the strides of model_def.SPEC (layer3 at stride 1), which
doubles the resolution of layer3's maps. The weights are the same tensors in both.
"""
import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import model_def

TOOLS = model_def.TOOLS


def load_split(data, split):
    d = np.load(os.path.join(data, split + '.npz'))
    return torch.from_numpy(d['images']), torch.from_numpy(d['labels'])


MEAN = torch.tensor(model_def.MEAN).view(1, 3, 1, 1)
STD = torch.tensor(model_def.STD).view(1, 3, 1, 1)


def to_input(images_u8):
    x = images_u8.permute(0, 3, 1, 2).float() / 255.0
    return x


def normalise(x):
    return (x - MEAN) / STD


def augment(x, gen, pad=12):
    """Batch augmentation on [B,3,H,W] in 0..1: flip, shift, colour jitter.

    Integer shifts out of a reflect-padded copy rather than an affine grid_sample: on a
    CPU shared with other work the resampling cost as much as a third of the step.
    Scale and rotation variety already comes from the scene generator.
    """
    b, _, h, w = x.shape
    r = lambda lo, hi: torch.rand(b, generator=gen) * (hi - lo) + lo  # noqa: E731
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip.view(b, 1, 1, 1), x.flip(3), x)
    padded = F.pad(x, (pad, pad, pad, pad), mode='reflect')
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen).tolist()
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen).tolist()
    x = torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(b)])
    bright = r(0.75, 1.25).view(b, 1, 1, 1)
    contrast = r(0.75, 1.25).view(b, 1, 1, 1)
    sat = r(0.7, 1.3).view(b, 1, 1, 1)
    gray = x.mean(1, keepdim=True)
    x = gray + (x - gray) * sat
    mean = x.mean((1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean
    return (x * bright).clamp(0, 1)


def param_groups(net, weight_decay):
    decay, no_decay = [], []
    for name, p in net.named_parameters():
        # BN scales and biases are not weights that overfit; decaying them only hurts.
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [{'params': decay, 'weight_decay': weight_decay}, {'params': no_decay, 'weight_decay': 0.0}]


@torch.no_grad()
def evaluate(net, images, labels, batch=250):
    net.eval()
    correct, loss = 0, 0.0
    for i in range(0, len(images), batch):
        x = normalise(to_input(images[i:i + batch]))
        y = labels[i:i + batch]
        out = net(x)
        loss += F.cross_entropy(out, y, reduction='sum').item()
        correct += (out.argmax(1) == y).sum().item()
    return loss / len(images), correct / len(images)


def export(net, meta, model_dir):
    os.makedirs(model_dir, exist_ok=True)
    state = {k: v for k, v in net.state_dict().items()}
    model_def.write_safetensors(os.path.join(model_dir, 'model.safetensors'), state, {'format': 'pt', **meta})
    model_def.write_manifest(net, os.path.join(model_dir, 'manifest.json'))
    print('exported', model_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default=os.path.join(TOOLS, 'data', 'scenes'))
    ap.add_argument('--epochs', type=int, default=12)
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--seed', type=int, default=0)
    # One thread: on a CPU shared with other jobs, two OpenMP threads ran 3-10x slower.
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--log', default=os.path.join(TOOLS, 'train_log.txt'))
    ap.add_argument('--probe', type=int, default=0, help='time this many batches and stop')
    ap.add_argument('--export-only', action='store_true', help='export the checkpoint without training')
    ap.add_argument('--checkpoint', default=os.path.join(TOOLS, 'data', 'checkpoint.pt'))
    ap.add_argument('--model-dir', default=model_def.MODEL_DIR)
    ap.add_argument('--init', help='start from this checkpoint (fine-tuning) instead of random weights')
    ap.add_argument('--strides', help='stage strides for this run, e.g. 1,2,2,2 (default: model_def.SPEC)')
    ap.add_argument('--append-log', action='store_true', help='add to the log instead of starting it')
    ap.add_argument('--no-export', action='store_true', help='keep only the checkpoint (a first phase)')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    strides = [int(v) for v in args.strides.split(',')] if args.strides else None
    net = model_def.build(strides)
    ckpt_path = args.checkpoint
    if args.export_only:
        ck = torch.load(ckpt_path)
        net.load_state_dict(ck['model'])
        export(net, {'epochs': ck['epoch']}, args.model_dir)
        return

    if args.init:
        net.load_state_dict(torch.load(args.init)['model'])
    train_x, train_y = load_split(args.data, 'train')
    val_x, val_y = load_split(args.data, 'val')
    steps_per_epoch = len(train_x) // args.batch
    opt = torch.optim.SGD(param_groups(net, 5e-4), lr=args.lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.15)
    gen = torch.Generator().manual_seed(args.seed)
    log = open(args.log, 'a' if args.append_log else 'w') if not args.probe else None

    def say(line):
        print(line, flush=True)
        if log:
            log.write(line + '\n')
            log.flush()

    params = sum(p.numel() for p in net.parameters())
    say(f'# {model_def.MODEL_NAME}: {params} parameters, {len(train_x)} train / {len(val_x)} val scenes, '
        f'{args.epochs} epochs x {steps_per_epoch} steps, batch {args.batch}, SGD nesterov one-cycle '
        f'max lr {args.lr}, seed {args.seed}, torch {torch.__version__}, {args.threads} threads, '
        f'stage strides {net.spec.get("strides", [1, 2, 2, 2])}'
        + (f', from {os.path.relpath(args.init, TOOLS)}' if args.init else ''))
    say('epoch  train_loss  train_acc  val_loss  val_acc  lr_end    elapsed_s')
    start = time.time()
    for epoch in range(1, args.epochs + 1):
        net.train()
        order = torch.randperm(len(train_x), generator=gen)
        seen, loss_sum, correct = 0, 0.0, 0
        for step in range(steps_per_epoch):
            idx = order[step * args.batch:(step + 1) * args.batch]
            x = normalise(augment(to_input(train_x[idx]), gen))
            y = train_y[idx]
            out = net(x)
            loss = F.cross_entropy(out, y, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen += len(y)
            loss_sum += loss.item() * len(y)
            correct += (out.argmax(1) == y).sum().item()
            if args.probe and step + 1 == args.probe:
                dt = time.time() - start
                print(f'{args.probe} batches in {dt:.1f}s: {seen / dt:.0f} img/s, '
                      f'epoch ~{steps_per_epoch * dt / args.probe:.0f}s')
                return
        val_loss, val_acc = evaluate(net, val_x, val_y)
        say(f'{epoch:5d}  {loss_sum / seen:10.4f}  {correct / seen:9.4f}  {val_loss:8.4f}  {val_acc:7.4f}  '
            f'{sched.get_last_lr()[0]:.5f}  {time.time() - start:9.0f}')
        torch.save({'model': net.state_dict(), 'epoch': epoch}, ckpt_path)
    say(f'# training time {time.time() - start:.0f} s')
    if args.no_export:
        return
    export(net, {'epochs': args.epochs, 'train_seconds': round(time.time() - start)}, args.model_dir)


if __name__ == '__main__':
    main()
