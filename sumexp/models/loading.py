"""Load a tokenizer and model for a `model` config: from a checkpoint, or tiny and random offline."""

from __future__ import annotations

import logging

from sumexp.errors import UserError, first_line
from sumexp.security.trust import refuse_pickle_weights, weights_kwargs

log = logging.getLogger(__name__)

# Masked personal data and speakers in DialogSum-style dialogues; kept as whole, decodable tokens.
PLACEHOLDERS = [f"#Person{i}#" for i in range(1, 8)] + [
    "#PhoneNumber#",
    "#Address#",
    "#PassportNumber#",
    "#DateOfBirth#",
    "#SSN#",
    "#CardNumber#",
    "#CarNumber#",
    "#Email#",
]


def load_tokenizer(model_cfg, training_texts: list[str]):
    """The checkpoint's tokenizer (or one trained on `training_texts`), with the placeholders added."""
    kwargs = dict(model_cfg.tokenizer_kwargs)
    if model_cfg.scratch is not None:
        from sumexp.models.tiny import train_tokenizer

        tokenizer = train_tokenizer(training_texts, model_cfg.scratch.vocab_size, kwargs)
    else:
        tokenizer = _from_hub(tokenizer_factory(model_cfg), model_cfg, **kwargs)
    if tokenizer.eos_token is None:  # every label sequence must end in EOS, or the model never stops
        raise UserError(
            f"model={model_cfg.name}: its tokenizer has no EOS token; name it in model.tokenizer_kwargs, "
            f"e.g. +model.tokenizer_kwargs.eos_token='</s>'"
        )
    # Normal (not special) tokens: they must survive decoding with skip_special_tokens=True.
    tokenizer.add_tokens([p for p in PLACEHOLDERS if p not in tokenizer.get_vocab()])
    if tokenizer.pad_token is None:  # GPT-2 style tokenizers: padding is masked out, so EOS can serve
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def tokenizer_factory(model_cfg):
    """AutoTokenizer, or the class model.tokenizer_class names.

    AutoTokenizer picks the class from the model type (RobertaTokenizer for bart, GPT2Tokenizer for
    gpt2), which rebuilds a byte-level pipeline around a vocabulary that is not byte-level: KoBART's
    and KoGPT2's folders, which have no tokenizer_config.json, then lose all Korean text.
    """
    import transformers

    name = model_cfg.tokenizer_class or "AutoTokenizer"
    factory = getattr(transformers, name, None)
    if not hasattr(factory, "from_pretrained") or "Tokenizer" not in name:
        raise UserError(
            f"model.tokenizer_class={name}: transformers has no tokenizer class of that name; use e.g. "
            f"PreTrainedTokenizerFast, or null for AutoTokenizer"
        )
    return factory


def load_model_config(model_cfg, tokenizer):
    """The architecture config; its `is_encoder_decoder` decides the family, not the model's name."""
    if model_cfg.scratch is not None:
        from sumexp.models.tiny import build_config

        return build_config(model_cfg.scratch.model_type, tokenizer, dict(model_cfg.scratch.config))
    from transformers import AutoConfig

    return _from_hub(AutoConfig, model_cfg)


def load_model(model_cfg, tokenizer, config, folder=None, **load_kwargs):
    """Seq2seq or causal LM by config, embeddings resized for the added placeholder tokens.

    `folder`: load the weights from there instead (a run's saved base model); `load_kwargs` go to
    from_pretrained (dtype, quantization_config, ...).
    """
    import copy

    model_class = model_class_for(config)
    if folder is not None:
        model = model_class.from_pretrained(
            folder, trust_remote_code=model_cfg.trust_remote_code, **weights_kwargs(model_cfg), **load_kwargs
        )
    elif model_cfg.scratch is not None:
        model = model_class.from_config(config)
    else:  # a copy: from_pretrained writes e.g. quantization_config into the config it is given
        model = _from_hub(
            model_class, model_cfg, config=copy.deepcopy(config), **weights_kwargs(model_cfg), **load_kwargs
        )
    return fit_to_tokenizer(model, tokenizer)


def model_class_for(config):
    """AutoModelForSeq2SeqLM for encoder-decoders, AutoModelForCausalLM for the rest."""
    from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

    return AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM


def fit_to_tokenizer(model, tokenizer):
    """Embeddings resized for the added tokens, and the tokenizer's pad and EOS ids wired in."""
    if model.get_input_embeddings().num_embeddings < len(tokenizer):
        model.resize_token_embeddings(len(tokenizer))
    model.config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model


def _from_hub(factory, model_cfg, **kwargs):
    """`factory.from_pretrained(checkpoint)`, with a missing checkpoint reported as a user error."""
    if not model_cfg.checkpoint:
        raise UserError(f"model={model_cfg.name}: neither model.checkpoint nor model.scratch is set; set one of them")
    try:
        return factory.from_pretrained(model_cfg.checkpoint, trust_remote_code=model_cfg.trust_remote_code, **kwargs)
    except OSError as err:
        first = first_line(err)
        refuse_pickle_weights(model_cfg, first)
        raise UserError(
            f"model.checkpoint={model_cfg.checkpoint}: cannot load ({first}); check the name, the network "
            f"or a local folder, or use an offline model such as model=tiny_bart"
        ) from None
    except ValueError as err:  # transformers' word for a checkpoint it cannot use as it is
        if "trust_remote_code" in str(err):
            raise UserError(
                f"model.checkpoint={model_cfg.checkpoint}: it asks to run its own Python (auto_map in its config.json, "
                f"for a model type transformers does not know); refused, none of it ran. Use a checkpoint transformers "
                f"supports, or read its code and set trust_remote_code: true in the model's own conf/model/*.yaml"
            ) from None
        first = first_line(err)
        raise UserError(
            f"model.checkpoint={model_cfg.checkpoint}: cannot load ({first}); check that it is a complete "
            f"transformers checkpoint (config.json, tokenizer files, weights)"
        ) from None
