"""nn_core — the NumPy reference network core of the course.

The single source of truth for every expected answer: activations, losses,
layers (forward/backward pairs with explicit caches), a network with a
per-sample and a batched gradient path, optimizers and training, gradient
checking, operation counting, a scalar computational graph, the extreme
learning machine, data sets, and (in :mod:`nn_core.symbolic`) the SymPy
derivations of the lecture results.

Notation (the lectures'): ``z^{(l)} = W^{(l)} a^{(l−1)} + b^{(l)}``,
``a^{(l)} = f_l(z^{(l)})``, ``δ^{(l)} = ∂L/∂z^{(l)}``, ``W^{(l)} ∈ R^{M_l×M_{l−1}}``;
a batch holds samples as rows, ``X ∈ R^{n×d}``.
"""
from .activations import *  # noqa: F401,F403
from .activations import __all__ as _act_all
from .conv import *  # noqa: F401,F403
from .conv import __all__ as _conv_all
from .data import *  # noqa: F401,F403
from .data import __all__ as _data_all
from .elm import *  # noqa: F401,F403
from .elm import __all__ as _elm_all
from .gradcheck import *  # noqa: F401,F403
from .gradcheck import __all__ as _gc_all
from .graph import Value, trace_table, format_table  # noqa: F401
from .init import *  # noqa: F401,F403
from .init import __all__ as _init_all
from .layer import Layer  # noqa: F401
from .layers import *  # noqa: F401,F403
from .layers import __all__ as _layers_all
from .losses import *  # noqa: F401,F403
from .losses import __all__ as _losses_all
from .models import mlp  # noqa: F401
from .network import Network  # noqa: F401
from .opcount import *  # noqa: F401,F403
from .opcount import __all__ as _op_all
from .optim import *  # noqa: F401,F403
from .optim import __all__ as _optim_all
from .train import *  # noqa: F401,F403
from .train import __all__ as _train_all

__version__ = "0.1.0"
__all__ = [*_act_all, *_conv_all, *_data_all, *_elm_all, *_gc_all, *_init_all, *_layers_all,
           *_losses_all, *_op_all, *_optim_all, *_train_all,
           "Value", "trace_table", "format_table", "Layer", "mlp", "Network"]
