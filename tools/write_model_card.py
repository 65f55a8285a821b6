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


def main():
    log = open(os.path.join(model_def.TOOLS, 'train_log.txt')).read()
    torch_r = json.load(open(os.path.join(model_def.TOOLS, 'eval_torch.json')))
    bench_path = os.path.join(ROOT, 'bench', 'results', 'localisation.json')
    engine_r = json.load(open(bench_path)) if os.path.exists(bench_path) else None
    seconds = re.search(r'# training time (\d+) s', log)
    epochs = [l for l in log.splitlines() if re.match(r'\s*\d+\s', l)]
    last = epochs[-1].split() if epochs else ['?'] * 5
    nl_t = torch_r['nonlocal']
    nl_e = next(iter(engine_r['nonLocal'].values())) if engine_r and engine_r.get('nonLocal') else None
    fields = {
        'train_minutes': f'{int(seconds.group(1)) / 60:.0f}' if seconds else '?',
        'epochs': str(len(epochs)),
        'val_acc': f'{float(last[4]) * 100:.1f}%' if epochs else '?',
        'acc_engine': pct(engine_r['accuracy']) if engine_r else 'not measured yet',
        'acc_torch': pct(torch_r['accuracy']),
        'engine_backend': engine_r.get('backend', '?') if engine_r else '-',
        'pointing_table': pointing_table(torch_r, engine_r),
        'nl_engine': f"{pct(nl_e['massInBox'])} (box share {pct(nl_e['boxShare'])})" if nl_e else '-',
        'nl_torch': f"{pct(nl_t['mass_in_box'])} (box share {pct(nl_t['box_share'])})",
        'train_log': log.strip(),
        'classes': ', '.join(model_def.CLASSES),
    }
    text = open(os.path.join(model_def.TOOLS, 'model_card_template.md')).read()
    for k, v in fields.items():
        text = text.replace('{{' + k + '}}', v)
    out = os.path.join(model_def.MODEL_DIR, 'MODEL_CARD.md')
    with open(out, 'w') as f:
        f.write(text)
    print('wrote', out)


if __name__ == '__main__':
    main()
