"""Training backends: how a model is loaded and which of its weights train.

Each backend is one module plus one YAML in conf/backend/ whose `_target_` names its class, so a
backend's heavy imports happen only when it is selected. matrix.py decides, before any weights
load, which backend serves the model on this device (probes.py asks the machine); adapters.py
holds what lora, qlora and unsloth share.
"""
