"""PyTorch reference implementations of AttnScope's networks and attention modules."""
from .attention import CBAM_ORDERS, CBAM_POOLS, Attention, CBAMOfficial, CBAMTimm, GCBlock, SELinear, SETimm
from .inserted import BAM, NONLOCAL_MODES, NonLocal
from .selfattention import ChannelSelfAttention, SelfAttention
from .resnet import ResNet, build_resnet, normalise_spec

__all__ = ['Attention', 'BAM', 'CBAM_ORDERS', 'CBAM_POOLS', 'CBAMOfficial', 'CBAMTimm', 'ChannelSelfAttention',
           'GCBlock', 'NONLOCAL_MODES', 'NonLocal', 'ResNet', 'SELinear', 'SETimm', 'SelfAttention', 'build_resnet',
           'normalise_spec']
