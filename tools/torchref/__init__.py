"""PyTorch reference implementations of AttnScope's networks and attention modules."""
from .afnb import AFNB
from .apnb import APNB
from .attention import CBAM_ORDERS, CBAM_POOLS, Attention, CBAMOfficial, CBAMTimm, GCBlock, SELinear, SETimm, SpatialSE
from .crisscross import CrissCrossAttention
from .doubleattention import DoubleAttention
from .emattention import EMAttention
from .inserted import BAM, NONLOCAL_MODES, NonLocal
from .interlaced import InterlacedSparseAttention
from .lightnl import LightNL
from .nlsa import NonLocalSparseAttention
from .polarized import PSA_VARIANTS, PolarizedSelfAttention
from .rnl import RegionNonLocal
from .san import PairwiseSelfAttention
from .selfattention import ChannelSelfAttention, SelfAttention
from .stn import SpatialTransformer
from .resnet import ResNet, build_resnet, normalise_spec

__all__ = ['AFNB', 'APNB', 'Attention', 'BAM', 'CBAM_ORDERS', 'CBAM_POOLS', 'CBAMOfficial', 'CBAMTimm', 'ChannelSelfAttention',
           'CrissCrossAttention', 'DoubleAttention', 'EMAttention', 'GCBlock', 'InterlacedSparseAttention',
           'LightNL', 'NONLOCAL_MODES', 'NonLocal', 'NonLocalSparseAttention', 'PSA_VARIANTS', 'PairwiseSelfAttention', 'PolarizedSelfAttention',
           'RegionNonLocal', 'ResNet', 'SELinear', 'SETimm', 'SelfAttention', 'SpatialSE', 'SpatialTransformer', 'build_resnet', 'normalise_spec']
