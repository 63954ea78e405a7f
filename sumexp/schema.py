"""Typed schemas for the run config; the YAML options in conf/ fill them in.

Registered in Hydra's ConfigStore by `register_configs()` (called by the CLI entry point and by the
tests), so a misspelt key or a wrong type fails at composition time, before anything heavy runs.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf, open_dict, read_write


@dataclass
class PretrainSettings:
    """A scratch model's base pretrained as a language model on the training dialogues (never the summaries),
    once, cached in cache_dir: the runs then fine-tune it as they would a hub checkpoint (sumexp/models/pretrain.py)."""

    steps: int = 0  # 0: fine-tune from random weights; N: N optimizer steps of pretraining first
    learning_rate: float = 3e-3  # peak rate, linear decay; a tiny model from random weights takes a high one
    batch_size: int = 16  # blocks of dialogue text per step
    block_size: int = 128  # tokens per block: longer costs more per step and teaches longer context
    seed: int = 0  # fixed, not the run's seed: every run of a sweep starts from the one base, like a hub checkpoint


@dataclass
class ScratchConfig:
    """A tiny model built offline from a config: random weights, or pretrained here (`pretrain`)."""

    model_type: str = MISSING  # a transformers model type: bart, t5, gpt2, llama, ...
    vocab_size: int = 3000  # the tokenizer trained on the run's training text gets at most this many
    config: dict[str, Any] = field(default_factory=dict)  # kwargs for AutoConfig.for_model
    pretrain: PretrainSettings = field(default_factory=PretrainSettings)


@dataclass
class ModelConfig:
    name: str = MISSING
    checkpoint: str | None = None  # hub id or local folder; null with `scratch` set
    scratch: ScratchConfig | None = None
    source_prefix: str = ""  # seq2seq: put before every dialogue ("summarize: " for T5)
    prompt_template: str = "{dialogue}"  # causal: the prompt, with a {dialogue} slot
    use_chat_template: bool = False  # causal instruct models: wrap the prompt in the chat template
    max_source_length: int = 512  # tokens of dialogue (seq2seq) or of the whole prompt (causal)
    max_target_length: int = 128  # tokens of summary (seq2seq labels; default max_new_tokens)
    learning_rate: float = 5e-5  # the family default, used when optim.lr is null
    allow_fp16: bool = True  # false for T5/mT5: their loss goes NaN in fp16
    tokenizer_class: str | None = None  # null: AutoTokenizer; PreTrainedTokenizerFast for KoBART/KoGPT2
    tokenizer_kwargs: dict[str, Any] = field(default_factory=dict)
    trust_remote_code: bool = False  # runs the checkpoint's own Python; only a conf/model/*.yaml may set it
    allow_pickle: bool = False  # load pickle (.bin) weights, which can run code; safetensors need no opt-in


@dataclass
class LoraSettings:
    """LoRA adapters (lora, qlora, unsloth): the values all three share."""

    r: int = 16  # adapter rank
    alpha: int = 32  # scale = alpha / r
    dropout: float = 0.1
    target_modules: Any | None = None  # null: peft's default for the architecture; "all-linear"; or a list of names
    train_new_tokens: bool = True  # train the embedding (and untied output) rows of the added placeholder tokens


@dataclass
class QuantizationSettings:
    """bitsandbytes 4-bit loading of the frozen base weights (qlora; unsloth when set)."""

    quant_type: str = "nf4"  # nf4 | fp4
    double_quant: bool = True  # quantize the quantization constants too (about 0.4 bits/weight less)
    compute_dtype: str = "auto"  # auto: the training precision | bf16 | fp16 | fp32 (fp16 obeys model.allow_fp16)


@dataclass
class BackendConfig:
    name: str = MISSING  # a backend registered in sumexp/backends/matrix.py (BACKENDS), which names its class
    fallback: bool = True  # when this backend cannot serve the model on this device: the next that can (recorded)
    lora: LoraSettings | None = None  # null: no adapters (full fine-tuning)
    quantization: QuantizationSettings | None = None  # null: the base weights stay unquantized
    lr_scale: float = 1.0  # optim.lr=null trains at model.learning_rate x this (adapters learn at a higher rate)


@dataclass
class DataConfig:
    name: str = MISSING
    source: str = "files"  # sample | files | hf
    dir: str | None = None  # folder with the split files (source=files)
    train_file: str = "train.csv"
    dev_file: str = "dev.csv"
    test_file: str | None = "test.csv"  # null: no test split, no submission
    holdout_when_no_train: float | None = None  # no train file: train on dev, hold out this fraction
    hf_name: str | None = None  # source=hf: a datasets name or path
    hf_config: str | None = None
    train_split: str = "train"
    dev_split: str = "validation"
    test_split: str | None = "test"
    id_column: str = "fname"
    dialogue_column: str = "dialogue"
    summary_column: str = "summary"  # also finds summary1..N and list-valued cells
    max_train_samples: int | None = None  # cap a split for quick runs
    max_eval_samples: int | None = None
    on_bad_rows: str = "drop"  # rows with an empty id, dialogue or summary: drop (counted) | error
    encoding: str = "utf-8"  # of the split files; a BOM is fine. cp949 for Korean files saved by Excel
    max_file_mb: float = 1024.0  # a larger split file is refused (it is read whole into memory); raise it if meant


@dataclass
class OptimConfig:
    lr: float | None = None  # null: the model's family default (model.learning_rate)
    weight_decay: float = 0.0
    warmup: float = 0.0  # a ratio of the training steps when < 1, else a step count
    scheduler: str = "linear"  # any transformers scheduler name: linear, cosine, constant, ...
    scheduler_kwargs: dict[str, Any] = field(default_factory=dict)  # passed to the scheduler
    epochs: float = 3.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 8
    eval_batch_size: int = 16
    grad_accum: int = 1
    gradient_checkpointing: bool = False
    auto_find_batch_size: bool = False  # after an out-of-memory error, retry with half the batch
    group_by_length: bool = True  # batches of similar lengths: less padding, faster steps
    precision: str = "auto"  # auto | bf16 | fp16 | fp32
    eval_steps: int | None = None  # null: evaluate every epoch; N: every N steps
    evaluate: bool = True  # false: no dev evaluation while training; the final weights are scored once
    checkpoint_minutes: float = 10.0  # evaluate=false: resumable checkpoints at most this often (0: each epoch)
    eval_on_start: bool = True  # score the untrained model too, so the gain from training is visible
    early_stopping_patience: int | None = 3  # null: never stop early
    early_stopping_threshold: float = 0.0
    max_grad_norm: float = 1.0
    logging_steps: int = 10


@dataclass
class GenerationConfig:
    num_beams: int = 4
    max_new_tokens: int | None = None  # null: model.max_target_length
    no_repeat_ngram_size: int = 0
    length_penalty: float = 1.0


@dataclass
class ScoreConfig:
    tokenizer: str = "morpheme"  # morpheme (Kiwi) | whitespace | char | rouge_score
    aggregate: str = "mean"  # over references: mean (the competition) | max
    use_stemmer: bool = False  # rouge_score tokenizer only


@dataclass
class RunConfig:
    model: ModelConfig = MISSING
    backend: BackendConfig = MISSING
    data: DataConfig = MISSING
    optim: OptimConfig = MISSING
    generation: GenerationConfig = MISSING
    score: ScoreConfig = field(default_factory=ScoreConfig)
    seed: int = 42
    report_to: str = "none"  # none | tensorboard | wandb | mlflow
    keep_checkpoints: bool = False  # keep the per-epoch Trainer checkpoints beside the best model
    resume: bool = False  # continue from the newest complete checkpoint in this run's folder
    train: bool = True  # false: score the model as loaded (a fine-tuned checkpoint, an instruct model zero-shot)
    cache_dir: str | None = None  # encoded splits are kept here by content hash; null: no cache
    force: bool = False  # run even when the run folder holds a completed run of the same config
    verbose: bool = False  # every log line and progress bar on the terminal, not only in sumexp.log


def task_config(config: DictConfig) -> DictConfig:
    """The run config as the task sees it: a copy of what Hydra composed, without Hydra's own node."""
    task_cfg = copy.deepcopy(config)
    with read_write(task_cfg), open_dict(task_cfg):
        task_cfg.pop("hydra", None)
    return task_cfg


def register_configs() -> None:
    """Put the run schema where conf/config.yaml's defaults list finds it (idempotent).

    Only the top-level schema is stored: every group option is merged into its typed field
    (model into ModelConfig, ...), which is what rejects unknown keys and wrong types.
    """
    ConfigStore.instance().store(name="run_schema", node=RunConfig)
    register_resolvers()


def register_resolvers() -> None:
    """`${path_part:${model.name}}` in the run folder names (idempotent)."""
    if not OmegaConf.has_resolver("path_part"):
        OmegaConf.register_new_resolver("path_part", path_part)


# A folder name may hold 255 bytes; two parts, a time and a job number share one, so each part keeps fewer.
PATH_PART_BYTES = 80


def path_part(name) -> str:
    """`name` as one safe folder name: a model or backend name such as ../../x must not place the run
    folder outside outputs/ or multirun/ (Hydra creates it before any check of sumexp's could run).
    A long name keeps its start and gains a hash of the whole, so two long names stay two folders."""
    safe = re.sub(r"[^\w.-]", "_", str(name)).lstrip(".") or "_"
    if len(safe.encode("utf-8")) <= PATH_PART_BYTES:
        return safe
    digest = hashlib.sha256(str(name).encode("utf-8")).hexdigest()[:12]
    start = safe.encode("utf-8")[: PATH_PART_BYTES - len(digest) - 1].decode("utf-8", errors="ignore")
    return f"{start}-{digest}"
