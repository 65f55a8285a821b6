"""Write the LICENSES file listing every third-party work the built-in model was trained
on or that ships as a sample, generated from sources.py so the list cannot go stale.

    /usr/bin/python3 tools/dataset/licenses.py assets/models/emoji-cbam-nl/LICENSES.md
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sources  # noqa: E402


def _rows(entries, split):
    for b in entries:
        yield f"| {b['id']} | {split} | {b['author']} | {b['license']} | `{b['path']}` |"


def render():
    e = sources.EMOJI_LICENSE
    lines = [
        '# Third-party material in the built-in model\'s training data',
        '',
        'The weights were trained on synthetic scenes composed from the works below. None of',
        'the images are redistributed here except the sample scenes in `assets/samples/`',
        '(see `assets/samples/LICENSE.md`); the weights are a derived work of them.',
        '',
        '## Objects',
        '',
        f"{e['work']}, copyright {e['copyright']} License: {e['license']}. <{e['url']}>",
        '',
        'Target classes: ' + ', '.join(n for n, _ in sources.CLASSES) + '.',
        '',
        'Clutter (never a label): ' + ', '.join(n for n, _ in sources.DISTRACTORS) + '.',
        '',
        '## Background photographs',
        '',
        'From Debian packages; the full license texts are in each package\'s',
        '`/usr/share/doc/<package>/copyright` (plasma-workspace-wallpapers: LGPL-3.0, as',
        'declared in each wallpaper\'s metadata.json; mate-backgrounds: GPL-2.0-or-later;',
        'python3-skimage: the per-image notes in `skimage/data/__init__.py`).',
        '',
        '| id | used for | author | license | file |',
        '|---|---|---|---|---|',
        *_rows(sources.TRAIN_BACKGROUNDS, 'training'),
        *_rows(sources.TEST_BACKGROUNDS, 'held-out test only'),
        '',
    ]
    return '\n'.join(lines)


if __name__ == '__main__':
    out = sys.argv[1] if len(sys.argv) > 1 else None
    text = render()
    if out:
        with open(out, 'w') as f:
            f.write(text)
    else:
        print(text)
