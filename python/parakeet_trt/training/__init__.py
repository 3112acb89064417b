"""Training pieces for the demo model: a TDT loss that runs on CPU (and anywhere torch runs).

    from parakeet_trt.training import TdtLoss
    loss_fn = TdtLoss(blank_id=vocab_size, durations=[0, 1, 2, 3, 4], sigma=0.02, omega=0.1)
    loss = loss_fn(joint_logits, targets, encoded_lengths, target_lengths)

torch is imported lazily, on first use of a name, so importing this package stays cheap.
The function and its module share the name ``tdt_loss``; ``from parakeet_trt.training.tdt_loss
import tdt_loss`` is unambiguous whatever was imported before.
"""

import importlib

_LAZY = {
    "tdt_loss": "parakeet_trt.training.tdt_loss",
    "TdtLoss": "parakeet_trt.training.tdt_loss",
    "transducer_log_likelihood": "parakeet_trt.training.transducer_lattice",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        # Importing the submodule tdt_loss binds the package attribute "tdt_loss" to that module;
        # rebind it to the function so `from parakeet_trt.training import tdt_loss` gets the function.
        globals()[name] = value
        return value
    raise AttributeError(f"module 'parakeet_trt.training' has no attribute {name!r}")
