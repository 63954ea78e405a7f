"""Training backends: how a model is loaded and which of its weights train.

Each backend is one module, one entry in matrix.py's BACKENDS (its class, where it serves, what it
needs, what it falls back to) and one YAML of values in conf/backend/. Its class is imported only when
it is selected, so its heavy imports happen only then. matrix.py decides, before any weights load,
which backend serves the model on this device (probes.py asks the machine); adapters.py holds what
lora, qlora and unsloth share.
"""
