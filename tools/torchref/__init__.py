"""PyTorch reference implementations of AttnScope's networks and attention modules."""
from .attention import Attention, CBAMOfficial, CBAMTimm, GCBlock, SELinear, SETimm
from .inserted import BAM, NONLOCAL_MODES, NonLocal
from .resnet import ResNet, build_resnet, normalise_spec

__all__ = ['Attention', 'BAM', 'CBAMOfficial', 'CBAMTimm', 'GCBlock', 'NONLOCAL_MODES', 'NonLocal',
           'ResNet', 'SELinear', 'SETimm', 'build_resnet', 'normalise_spec']
