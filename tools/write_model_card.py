"""Write assets/models/<name>/MODEL_CARD.md from the training log and the evaluations,
so the figures in the card are always the ones the last build measured.

    /usr/bin/python3 tools/write_model_card.py
Reads tools/train_log.txt, tools/eval_torch.json and (when present) the engine bench's
bench/results/localisation.json; the prose lives in tools/model_card_template.md.
"""
import json
import os
import re

import model_def

ROOT = os.path.dirname(model_def.TOOLS)


def pct(x):
    return '-' if x is None else f'{x * 100:.1f}%'


def pointing_table(torch_r, engine_r):
    head = ['| map | engine (TypeScript) | engine, 15 px tolerance | PyTorch | PyTorch, 15 px tolerance |',
            '|---|---|---|---|---|']
    e_point = engine_r['pointing'] if engine_r else {}
    e_tol = engine_r.get('pointingTolerance15px', {}) if engine_r else {}
    rows = []
    for name in torch_r['pointing']:
        key = 'gradcam' if name == 'gradcam_layer4' else name
        label = {'gradcam_layer4': 'Grad-CAM, layer4, true class', 'centre': 'centre point (baseline)'}.get(
            name, f'CBAM spatial gate `{name}`')
        rows.append(f"| {label} | {pct(e_point.get(key))} | {pct(e_tol.get(key))} | "
                    f"{pct(torch_r['pointing'][name])} | {pct(torch_r['pointing_tolerance_15px'][name])} |")
    rows.append(f"| random point (baseline, expected) | {pct(engine_r['randomPointExpected'] if engine_r else None)} | "
                f"{pct(engine_r.get('randomPointExpectedTolerance15px') if engine_r else None)} | "
                f"{pct(torch_r['random_point_expected'])} | {pct(torch_r['random_point_expected_tolerance_15px'])} |")
    return '\n'.join(head + rows)


def class_evidence_table(engine_r):
    """Every class-evidence method (true class): its pointing game and its agreement with the
    CBAM spatial gates and the non-local summary (Pearson r / IoU of the top 20%, mean over
    scenes), from the engine bench's `classEvidence`."""
    ce = (engine_r or {}).get('classEvidence')
    if not ce:
        return '_Not measured yet (`npm run bench:localisation`)._'
    maps = list(ce[0]['agreement'].keys())
    short = lambda k: k.replace('.cbam.spatial', '').replace('.attention', ' (nl)')  # noqa: E731
    head = ['| class evidence | pointing | ms / image | ' + ' | '.join(f'r / IoU vs `{short(k)}`' for k in maps) + ' |',
            '|---|---|---|' + '---|' * len(maps)]
    rows = []
    for c in ce:
        cells = []
        for k in maps:
            v = c['agreement'].get(k)
            cells.append('-' if v is None else f"{v['pearson']:.2f} / {v['iouTop20']:.2f}")
        rows.append(f"| {c['label']}, {c['layer']} | {pct(c['pointing'])} | {c['msPerImage']:.0f} | " + ' | '.join(cells) + ' |')
    return '\n'.join(head + rows)


def breakdown_figure(torch_r, name, key):
    """{{bd:<map>:<key>}} in the template: one figure of evaluate_torch.py's per-map breakdown
    (rates as percentages, counts as integers; hit_by_clutter_count.N for one clutter count)."""
    value = torch_r['breakdown'][name]
    for part in key.split('.'):
        value = value[part]
    return pct(value) if value is None or isinstance(value, float) else str(value)


def agreement(torch_r, engine_r):
    """Largest gap between the engine's and PyTorch's figures, in points."""
    if not engine_r:
        return 'the engine has not been measured yet (`npm run bench:localisation`).'
    gaps = [abs(engine_r['accuracy'] - torch_r['accuracy'])]
    for name, v in torch_r['pointing'].items():
        key = 'gradcam' if name == 'gradcam_layer4' else name
        if key in engine_r['pointing']:
            gaps.append(abs(engine_r['pointing'][key] - v))
    return f"the engine's figures above differ from PyTorch's by at most {max(gaps) * 100:.1f} points."


def targets_line(r, source):
    """Whether the issue's targets are met, worded from the figures themselves."""
    cbam = {k: v for k, v in r['pointing'].items() if k.endswith('.cbam')}
    best = max(cbam, key=cbam.get)
    centre = r['pointing']['centre']
    met = lambda ok: 'met' if ok else '**not met**'  # noqa: E731
    return (f"accuracy >= 95 % is {met(r['accuracy'] >= 0.95)} ({pct(r['accuracy'])}); strict pointing game "
            f">= 90 % for the best CBAM stage is {met(cbam[best] >= 0.90)} ({pct(cbam[best])}, `{best}`), "
            f"against {pct(centre)} for the centre point ({source} figures).")


def main():
    log = open(os.path.join(model_def.TOOLS, 'train_log.txt')).read()
    torch_r = json.load(open(os.path.join(model_def.TOOLS, 'eval_torch.json')))
    bench_path = os.path.join(ROOT, 'bench', 'results', 'localisation.json')
    engine_r = json.load(open(bench_path)) if os.path.exists(bench_path) else None
    # One block per training phase: a '# <name>: ...' header, epoch lines, '# training time N s'.
    phases = [p for p in re.split(r'^(?=# ' + re.escape(model_def.MODEL_NAME) + ':)', log, flags=re.M) if p.strip()]
    seconds = [int(m) for m in re.findall(r'# training time (\d+) s', log)]
    per_phase = [[l for l in p.splitlines() if re.match(r'\s*\d+\s', l)] for p in phases]
    epochs = [l for p in per_phase for l in p]
    last = epochs[-1].split() if epochs else ['?'] * 5
    nl_t = torch_r['nonlocal']
    nl_e = next(iter(engine_r['nonLocal'].values())) if engine_r and engine_r.get('nonLocal') else None
    fields = {
        'train_minutes': f'{sum(seconds) / 60:.0f}' if seconds else '?',
        'phase_minutes': ' + '.join(f'{v / 60:.0f}' for v in seconds) or '?',
        'epochs_phase1': str(len(per_phase[0])) if per_phase else '?',
        'epochs_phase2': str(len(per_phase[1])) if len(per_phase) > 1 else '0',
        'val_acc_phase1': f'{float(per_phase[0][-1].split()[4]) * 100:.1f}%' if per_phase and per_phase[0] else '?',
        'val_acc': f'{float(last[4]) * 100:.1f}%' if epochs else '?',
        'acc_engine': pct(engine_r['accuracy']) if engine_r else 'not measured yet',
        'acc_torch': pct(torch_r['accuracy']),
        'engine_backend': engine_r.get('backend', '?') if engine_r else '-',
        'pointing_table': pointing_table(torch_r, engine_r),
        'class_evidence_table': class_evidence_table(engine_r),
        'nl_engine': f"{pct(nl_e['massInBox'])} (box share {pct(nl_e['boxShare'])})" if nl_e else '-',
        'nl_torch': f"{pct(nl_t['mass_in_box'])} (box share {pct(nl_t['box_share'])})",
        'train_log': log.strip(),
        'classes': ', '.join(model_def.CLASSES),
        'agreement': agreement(torch_r, engine_r),
        'targets': targets_line(engine_r or torch_r, 'engine' if engine_r else 'PyTorch'),
    }
    text = open(os.path.join(model_def.TOOLS, 'model_card_template.md')).read()
    for k, v in fields.items():
        text = text.replace('{{' + k + '}}', v)
    text = re.sub(r'\{\{bd:([\w.]+):([\w.]+)\}\}', lambda m: breakdown_figure(torch_r, m.group(1), m.group(2)), text)
    left = re.findall(r'\{\{[^}]*\}\}', text)
    if left:
        raise SystemExit(f'template fields without a value: {left}')
    out = os.path.join(model_def.MODEL_DIR, 'MODEL_CARD.md')
    with open(out, 'w') as f:
        f.write(text)
    print('wrote', out)


if __name__ == '__main__':
    main()
