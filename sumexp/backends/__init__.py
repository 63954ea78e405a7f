"""Training backends: how a model is loaded and which of its weights train.

Each backend is one module plus one YAML in conf/backend/ whose `_target_` names its class, so a
backend's heavy imports happen only when it is selected.
"""
