"""The semantic layer: a transformer encoder that maps a chunk to a unit vector, and the pair head.

Scanning uses :mod:`codeguard.ml.encoder` (ONNX Runtime + ``tokenizers``, int8), which never
imports torch. Training and export (:mod:`codeguard.ml.train`, :mod:`codeguard.ml.export`) need
the ``train`` extra and import torch, transformers and peft only inside their functions.
"""

# Kinds of training data `codeguard train --data KIND:PATH` reads (codeguard.ml.data); here so
# that the CLI can list them without importing the data loaders.
DATA_KINDS = ("pairs", "clusters", "poj104", "bcb", "synthetic")
