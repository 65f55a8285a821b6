"""Where the scenes' pixels come from: emoji artwork and background photos.

Everything here is read from Debian packages installed on the build machine, so the
dataset can be regenerated offline. Each source carries its author and license so
tools/dataset/licenses.py can write the LICENSES file shipped next to the model.
"""
import glob
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

EMOJI_FONT = '/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf'
# NotoColorEmoji is a CBDT bitmap font: Pillow can only draw it at its strike size.
EMOJI_FONT_SIZE = 109

# The 20 target classes. Chosen so no two are near-duplicates at 128 px (no wrench next
# to the hammer, no rabbit next to the cat), which keeps the label unambiguous.
CLASSES = [
    ('dog', '\U0001F415'), ('cat', '\U0001F408'), ('elephant', '\U0001F418'),
    ('giraffe', '\U0001F992'), ('turtle', '\U0001F422'), ('fish', '\U0001F41F'),
    ('butterfly', '\U0001F98B'), ('rooster', '\U0001F413'), ('car', '\U0001F697'),
    ('bicycle', '\U0001F6B2'), ('airplane', '\u2708'), ('locomotive', '\U0001F682'),
    ('sailboat', '\u26F5'), ('apple', '\U0001F34E'), ('banana', '\U0001F34C'),
    ('grapes', '\U0001F347'), ('strawberry', '\U0001F353'), ('pineapple', '\U0001F34D'),
    ('hammer', '\U0001F528'), ('scissors', '\u2702'),
]

# Clutter: emoji that are none of the classes. Distractors come only from this pool, so
# a scene holds exactly one object of the class set and its label names that object.
DISTRACTORS = [
    ('soccer_ball', '\u26BD'), ('balloon', '\U0001F388'), ('evergreen_tree', '\U0001F332'),
    ('cherry_blossom', '\U0001F338'), ('mushroom', '\U0001F344'), ('books', '\U0001F4DA'),
    ('gift', '\U0001F381'), ('alarm_clock', '\u23F0'), ('light_bulb', '\U0001F4A1'),
    ('key', '\U0001F511'), ('chair', '\U0001FA91'), ('socks', '\U0001F9E6'),
    ('guitar', '\U0001F3B8'), ('cactus', '\U0001F335'), ('doughnut', '\U0001F369'),
    ('teddy_bear', '\U0001F9F8'), ('potted_plant', '\U0001FAB4'), ('star', '\u2B50'),
    ('package', '\U0001F4E6'), ('candle', '\U0001F56F'), ('shoe', '\U0001F45F'),
    ('top_hat', '\U0001F3A9'), ('umbrella', '\u2602'), ('carrot', '\U0001F955'),
    ('bread', '\U0001F35E'),
]

EMOJI_LICENSE = {
    'work': 'Noto Color Emoji glyphs (Debian package fonts-noto-color-emoji)',
    'copyright': '2013-2017 Google Inc.',
    'license': 'SIL Open Font License 1.1 (font); emoji artwork Apache-2.0 upstream',
    'url': 'https://github.com/googlefonts/noto-emoji',
}

_PLASMA = '/usr/share/wallpapers/{}/contents/images/{}'
_MATE = '/usr/share/backgrounds/mate/nature/{}.jpg'
_SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data/{}'

_LGPL3_PLASMA = 'LGPL-3.0 (Debian package plasma-workspace-wallpapers)'
_GPL2_MATE = 'GPL-2.0-or-later (Debian package mate-backgrounds)'


def _plasma(name, author):
    return dict(id='plasma-' + name, path=_PLASMA.format(name, '1280x1024.jpg'),
                author=author, license=_LGPL3_PLASMA)


def _mate(name, author):
    return dict(id='mate-' + name, path=_MATE.format(name), author=author, license=_GPL2_MATE)


def _skimage(name, author, license_):
    return dict(id='skimage-' + name.split('.')[0], path=_SKIMAGE.format(name), author=author,
                license=license_ + ' (scikit-image sample data, Debian package python3-skimage)')


_RISTO = 'Risto Saukonpää'
# Only photographs (no vector art): the point is natural clutter. Photos that show one
# of the classes prominently (chelsea the cat, the motorcycle) are left out, and so are
# people (astronaut), so the background never competes with the label.
TRAIN_BACKGROUNDS = [
    _plasma('Autumn', 'RJ Quiralta'), _plasma('BytheWater', 'Maciej Wiklo'),
    _plasma('ColdRipple', _RISTO), _plasma('DarkestHour', _RISTO),
    _plasma('FallenLeaf', 'Martin Klapetek'), _plasma('Grey', 'Sigi Sagi'),
    _plasma('Kite', _RISTO), _plasma('OneStandsOut', _RISTO), _plasma('summer_1am', _RISTO),
    dict(_plasma('ColorfulCups', 'Dmitri Popov'), path=_PLASMA.format('ColorfulCups', '2560x1600.jpg')),
    _mate('Aqua', 'Charles Barbin'), _mate('Blinds', 'Lennart Poettering, Andrea Cimitan'),
    _mate('Dune', 'Marco Cogoni, Hylke Bons'), _mate('FreshFlower', 'Jens Ansorg'),
    _mate('GreenMeadow', 'Timothy Schellhase, Lapo Calamandrei'), _mate('LadyBird', 'Charles Barbin'),
    _mate('RainDrops', 'blackcombwhistler07'), _mate('TwoWings', 'Charles Barbin, Hylke Bons'),
    _mate('Wood', 'Jean-François Fortin Tam'), _mate('YellowFlower', 'Charles Barbin'),
    _skimage('grass.png', 'linolafett (DeviantArt)', 'CC0-1.0'),
    _skimage('gravel.png', 'CC0Textures', 'CC0-1.0'),
    _skimage('brick.png', 'CC0Textures', 'CC0-1.0'),
    _skimage('hubble_deep_field.jpg', 'NASA', 'public domain'),
    _skimage('coins.png', 'Brooklyn Museum', 'no known copyright restrictions'),
    _skimage('camera.png', 'Lav Varshney', 'CC0-1.0'),
]

# Whole photos held out for the 500-scene evaluation set: never cropped into training.
TEST_BACKGROUNDS = [
    _plasma('EveningGlow', 'Ian Hex'), _plasma('Path', _RISTO),
    _mate('Garden', 'Charles Barbin'), _mate('Storm', 'Sergey Nazarov'),
    _skimage('coffee.png', 'Rachel Michetti', 'CC0-1.0'),
    _skimage('rocket.jpg', 'SpaceX', 'public domain'),
]


def load_background(entry, short_side=512):
    """RGB uint8 array, downscaled once so per-scene crops are cheap."""
    im = Image.open(entry['path']).convert('RGB')
    scale = short_side / min(im.size)
    if scale < 1:
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
    return np.asarray(im)


def render_emoji(char):
    """The glyph as an RGBA image cropped to its visible pixels."""
    font = ImageFont.truetype(EMOJI_FONT, EMOJI_FONT_SIZE)
    canvas = Image.new('RGBA', (170, 170), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).text((15, 15), char, font=font, embedded_color=True)
    box = canvas.getchannel('A').point(lambda a: 255 if a > 8 else 0).getbbox()
    if box is None:
        raise RuntimeError(f'emoji U+{ord(char[0]):04X} renders empty with {EMOJI_FONT}')
    return canvas.crop(box)


def check_sources():
    missing = [b['path'] for b in TRAIN_BACKGROUNDS + TEST_BACKGROUNDS if not os.path.exists(b['path'])]
    if missing:
        raise SystemExit('missing background photos (install plasma-workspace-wallpapers, '
                         'mate-backgrounds, python3-skimage):\n  ' + '\n  '.join(missing))
    if not glob.glob(EMOJI_FONT):
        raise SystemExit('missing ' + EMOJI_FONT + ' (install fonts-noto-color-emoji)')
