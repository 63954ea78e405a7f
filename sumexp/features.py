"""The features a model trains on: (dialogue, summary) pairs turned into token ids and labels, for both families.

The label masking for the whole project lives here: seq2seq labels are the summary ending in EOS;
causal labels are -100 over the prompt, then the summary and EOS. Padding is masked by the collator.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

IGNORE_INDEX = -100  # the label value the loss skips


def with_eos(ids: list[int], eos_id: int, max_length: int | None = None) -> list[int]:
    """`ids` cut to `max_length` and ending in exactly one EOS, whatever the tokenizer added."""
    body = ids[:-1] if ids and ids[-1] == eos_id else list(ids)
    if max_length is not None:
        body = body[: max_length - 1]
    return body + [eos_id]


@dataclass
class Encoder:
    tokenizer: object
    is_encoder_decoder: bool
    source_prefix: str = ""
    prompt_template: str = "{dialogue}"
    use_chat_template: bool = False
    max_source_length: int = 512
    max_target_length: int = 128

    @classmethod
    def from_config(cls, model_cfg, tokenizer, is_encoder_decoder: bool) -> Encoder:
        return cls(
            tokenizer=tokenizer,
            is_encoder_decoder=is_encoder_decoder,
            source_prefix=model_cfg.source_prefix,
            prompt_template=model_cfg.prompt_template,
            use_chat_template=model_cfg.use_chat_template,
            max_source_length=model_cfg.max_source_length,
            max_target_length=model_cfg.max_target_length,
        )

    def prompt_ids(self, dialogue: str) -> list[int]:
        """What the model sees at generation time: the source (seq2seq) or the prompt (causal)."""
        return self.prompts([dialogue])[0]

    def train_features(self, dialogue: str, summary: str) -> dict[str, list[int]]:
        """input_ids, attention_mask and labels for one training or dev-loss example."""
        return self.features([dialogue], [summary])[0]

    def prompts(self, dialogues: list[str]) -> list[list[int]]:
        """prompt_ids of many dialogues, tokenized in one batch (fast tokenizers work in parallel)."""
        if not dialogues:
            return []
        if self.is_encoder_decoder:
            # The tokenizer's own truncation cuts the text and keeps the specials it adds (BART's and
            # T5's EOS), which pretrained encoders always saw at the end of their input.
            sources = [self.source_prefix + d for d in dialogues]
            return self.tokenizer(sources, truncation=True, max_length=self.max_source_length)["input_ids"]
        if self.use_chat_template:
            return [self._chat_prompt(d) for d in dialogues]
        head, tail = self.prompt_template.split("{dialogue}")
        head_ids, tail_ids = self._ids(head), self._ids(tail)
        bos = [self.tokenizer.bos_token_id] if self.tokenizer_adds_bos else []
        budget = max(0, self.max_source_length - len(bos) - len(head_ids) - len(tail_ids))
        return [bos + head_ids + body[:budget] + tail_ids for body in self._ids_batch(dialogues)]

    def features(self, dialogues: list[str], summaries: list[str]) -> list[dict[str, list[int]]]:
        """train_features of many pairs, tokenized in batches."""
        eos = self.tokenizer.eos_token_id
        prompts = self.prompts(dialogues)
        if self.is_encoder_decoder:
            targets = self._ids_batch(summaries, special=True)
            return [
                {"input_ids": p, "attention_mask": [1] * len(p), "labels": with_eos(t, eos, self.max_target_length)}
                for p, t in zip(prompts, targets)
            ]
        # Causal: the summary is never truncated; the dialogue inside the prompt was cut instead.
        examples = []
        for prompt, summary_ids in zip(prompts, self._ids_batch(summaries)):
            target = with_eos(summary_ids, eos)
            examples.append(
                {
                    "input_ids": prompt + target,
                    "attention_mask": [1] * (len(prompt) + len(target)),
                    "labels": [IGNORE_INDEX] * len(prompt) + target,
                }
            )
        return examples

    def _chat_prompt(self, dialogue: str) -> list[int]:
        """The prompt as a user turn of the chat template, the dialogue cut so the whole fits."""
        overhead = len(self._apply_chat(""))
        budget = max(0, self.max_source_length - overhead)
        cut = self.tokenizer.decode(self._ids(dialogue)[:budget], skip_special_tokens=False)
        return self._apply_chat(cut)

    def _apply_chat(self, dialogue: str) -> list[int]:
        messages = [{"role": "user", "content": self.prompt_template.format(dialogue=dialogue)}]
        return list(
            self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=False)
        )

    def _ids(self, text: str, special: bool = False) -> list[int]:
        return self.tokenizer(text, add_special_tokens=special)["input_ids"]

    def _ids_batch(self, texts: list[str], special: bool = False) -> list[list[int]]:
        return self.tokenizer(list(texts), add_special_tokens=special)["input_ids"] if texts else []

    @cached_property
    def tokenizer_adds_bos(self) -> bool:
        """Whether the tokenizer itself starts sequences with BOS (Llama does, GPT-2 does not)."""
        bos = self.tokenizer.bos_token_id
        return bos is not None and self._ids("a", special=True)[:1] == [bos]
