"""sumexp.score.rouge: tokenization, placeholders, empty texts, aggregation, cache, rouge-score parity."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sumexp.errors import UserError
from sumexp.score.rouge import METRICS, TOKENIZERS, RougeScorer, lcs_length, score_rouge
from sumexp.score.tokenization import Tokenizer, normalize
from tests.support.repo import SHARED_DATA

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
FIELDS = ("precision", "recall", "fmeasure")
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def peer(preds, refs, aggregate="mean", tokenizer=None, use_stemmer=False) -> dict:
    """The same corpus score from Google's rouge-score, pair by pair (the reference implementation)."""
    from rouge_score.rouge_scorer import RougeScorer as GoogleScorer

    google = GoogleScorer(list(METRICS), use_stemmer=use_stemmer, tokenizer=tokenizer)
    totals = {m: [0.0, 0.0, 0.0] for m in METRICS}
    for pred, ref_list in zip(preds, refs):
        per_ref = [google.score(ref, pred) for ref in ref_list or [""]]
        for m in METRICS:
            scores = [tuple(s[m]) for s in per_ref]
            if aggregate == "max":
                best = max(range(len(scores)), key=lambda i: scores[i][2])
                picked = scores[best]
            else:
                picked = [sum(s[f] for s in scores) / len(scores) for f in range(3)]
            for f in range(3):
                totals[m][f] += picked[f]
    return {m: [t / len(preds) for t in totals[m]] for m in METRICS}


def assert_matches(ours: dict, theirs: dict) -> None:
    """All 9 numbers equal to 1e-9, and rouge_mean follows from the F1s."""
    for m in METRICS:
        for i, f in enumerate(FIELDS):
            assert abs(ours[m][f] - theirs[m][i]) <= 1e-9, (m, f, ours[m][f], theirs[m][i])
    expected_mean = sum(theirs[m][2] for m in METRICS) / 3 * 100
    assert abs(ours["rouge_mean"] - expected_mean) <= 1e-7


# Random text: Korean, English, placeholders, punctuation, digits, special tokens and whitespace,
# glued together without separators as often as not.
FRAGMENTS = [
    "안녕하세요",
    "친구에게",
    "전화했습니다",
    "는",
    "은",
    "를",
    "에게",
    "회의",
    "했다",
    "Jimmy",
    "Mr.",
    "Smith",
    "the",
    "running",
    "runs",
    "Dawson",
    "memo",
    "3시",
    "30분",
    "2024",
    ".",
    ",",
    "?",
    "!",
    "'",
    "-",
    " ",
    " ",
    " ",
    "\n",
    "  ",
    "<s>",
    "</s>",
    "<pad>",
    "<unk>",
    "<usr>",
    "#",
    "#Person#",
    *PLACEHOLDERS,
]
HANGUL = st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3)
PIECE = st.one_of(
    st.sampled_from(FRAGMENTS), st.text(HANGUL, min_size=1, max_size=4), st.text("abcXYZ019 #", min_size=1, max_size=4)
)
TEXT = st.lists(PIECE, max_size=14).map("".join)
EXAMPLES = st.lists(st.tuples(TEXT, st.lists(TEXT, max_size=3)), min_size=1, max_size=4)


@pytest.mark.parametrize("tokenizer", ["whitespace", "char", "morpheme"])
@PROPERTY
@given(examples=EXAMPLES, aggregate=st.sampled_from(["mean", "max"]))
@pytest.mark.slow
def test_korean_modes_equal_rouge_score_fed_the_same_tokens(tokenizer, examples, aggregate):
    preds, refs = [p for p, _ in examples], [r for _, r in examples]
    ours = score_rouge(preds, refs, tokenizer=tokenizer, aggregate=aggregate)
    assert_matches(ours, peer(preds, refs, aggregate, tokenizer=Tokenizer(tokenizer)))


@PROPERTY
@given(examples=EXAMPLES, aggregate=st.sampled_from(["mean", "max"]), stem=st.booleans())
def test_rouge_score_mode_equals_the_package(examples, aggregate, stem):
    preds, refs = [p for p, _ in examples], [r for _, r in examples]
    ours = score_rouge(preds, refs, tokenizer="rouge_score", aggregate=aggregate, use_stemmer=stem)
    # The package sees the normalized text: model special tokens are stripped in every mode.
    norm_refs = [[normalize(r) for r in rs] for rs in refs]
    theirs = peer([normalize(p) for p in preds], norm_refs, aggregate, use_stemmer=stem)
    assert_matches(ours, theirs)


@PROPERTY
@given(
    text=TEXT.filter(lambda t: not any(s in t for s in ("<s>", "</s>", "<pad>", "<unk>", "<usr>"))), stem=st.booleans()
)
def test_rouge_score_mode_is_googles_tokenizer_on_raw_text(text, stem):
    from rouge_score.tokenizers import DefaultTokenizer

    assert Tokenizer("rouge_score", stem).tokenize(text) == DefaultTokenizer(stem).tokenize(text)


@settings(max_examples=200, deadline=None)
@given(
    a=st.lists(st.sampled_from("abcde"), max_size=90), b=st.lists(st.sampled_from("abcdef"), max_size=90)
)  # 90 > 64: crosses machine-word size
def test_bit_parallel_lcs_equals_dynamic_programming(a, b):
    from rouge_score.rouge_scorer import _lcs_table

    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    assert lcs_length(masks, len(a), b) == _lcs_table(a, b)[-1][-1]


def test_normalize_strips_special_tokens_and_collapses_whitespace():
    assert normalize("<s> 안녕  하세요\n\t다음</s><pad><pad>") == "안녕 하세요 다음"
    assert normalize("a</s>b") == "a b"
    assert normalize("<usr><unk>") == ""


@pytest.mark.parametrize("placeholder", PLACEHOLDERS)
@pytest.mark.parametrize("tokenizer", ["whitespace", "char", "morpheme"])
def test_placeholders_are_one_token_in_korean_modes(tokenizer, placeholder):
    tokens = Tokenizer(tokenizer).tokenize(f"{placeholder}은 어제 {placeholder}에게 전화했다.")
    assert tokens.count(placeholder) == 2
    assert tokens[1] == "은"


def test_placeholder_is_split_off_particles_in_whitespace_mode():
    assert Tokenizer("whitespace").tokenize("#Person1#은 #Person2#에게 말했다.") == [
        "#Person1#",
        "은",
        "#Person2#",
        "에게",
        "말했다.",
    ]
    assert Tokenizer("char").tokenize("#Person1#은 가") == ["#Person1#", "은", "가"]


def test_morpheme_mode_keeps_kiwi_context_around_placeholders():
    tokens = Tokenizer("morpheme").tokenize("#Person1#는 #PhoneNumber#로 전화합니다.")
    assert tokens[:4] == ["#Person1#", "는", "#PhoneNumber#", "로"]
    assert "전화" in tokens


def test_rouge_score_mode_maps_placeholders_like_the_package():
    assert Tokenizer("rouge_score").tokenize("#Person1# said hi to #Person2#.") == [
        "person1",
        "said",
        "hi",
        "to",
        "person2",
    ]


def test_morpheme_batch_equals_one_by_one():
    texts = ["#Person1#은 숨쉬기 어려워합니다.", "", "</s>", "Jimmy는 3시 30분에 운동하러 갑니다."]
    tokenizer = Tokenizer("morpheme")
    assert tokenizer.tokenize_batch(texts) == [tokenizer.tokenize(t) for t in texts]


@pytest.mark.parametrize("tokenizer", TOKENIZERS)
@pytest.mark.parametrize(
    "pred,refs",
    [
        ("", ["안녕 하세요 Jimmy"]),
        ("안녕 하세요 Jimmy", [""]),
        ("", [""]),
        ("안녕 하세요 Jimmy", []),
        ("</s><pad>", ["a b"]),
    ],
)
def test_empty_prediction_or_reference_scores_zero(tokenizer, pred, refs):
    result = score_rouge([pred], [refs], tokenizer=tokenizer)
    assert all(result[m][f] == 0.0 for m in METRICS for f in FIELDS)
    assert result["rouge_mean"] == 0.0 and result["num_examples"] == 1


def test_korean_text_is_empty_for_googles_tokenizer():
    # The reason for the Korean modes: rouge-score drops every non-ASCII character.
    assert Tokenizer("rouge_score").tokenize("#Person1#은 숨쉬기 어려워합니다.") == ["person1"]


def test_mean_aggregation_averages_over_references():
    result = score_rouge(["a b"], [["a b", "c d"]], tokenizer="whitespace")
    assert [result[m]["fmeasure"] for m in METRICS] == [0.5, 0.5, 0.5]
    assert result["rouge_mean"] == 50.0


def test_max_aggregation_picks_the_best_reference_per_metric():
    # rouge1 is best against the shuffled reference, rouge2 against the longer one.
    result = score_rouge(["a b c d"], [["a b c d e f g h", "d c b a"]], tokenizer="whitespace", aggregate="max")
    assert result["rouge1"] == {"precision": 1.0, "recall": 1.0, "fmeasure": 1.0}
    assert result["rouge2"]["precision"] == 1.0 and result["rouge2"]["recall"] == 3 / 7


def test_result_has_the_documented_keys_and_plain_floats():
    result = score_rouge(["#Person1#은 집에 갑니다."], ["#Person1#은 집으로 갑니다."])
    assert set(result) == {*METRICS, "rouge_mean", "tokenizer", "aggregate", "num_examples", "per_example"}
    assert result["tokenizer"] == "morpheme" and result["aggregate"] == "mean"
    assert all(type(result[m][f]) is float for m in METRICS for f in FIELDS)
    assert set(result["per_example"]) == set(METRICS)
    assert all(type(f1) is float for m in METRICS for f1 in result["per_example"][m])
    assert type(result["rouge_mean"]) is float
    assert json.loads(json.dumps(result)) == result


def test_a_string_reference_counts_as_one_reference():
    assert score_rouge(["a b"], ["a b"], tokenizer="whitespace")["rouge_mean"] == 100.0


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 predictions, 1 reference lists"):
        score_rouge(["a", "b"], [["a"]])


@pytest.mark.parametrize(
    "kwargs,named",
    [({"tokenizer": "bpe"}, "morpheme, whitespace, char, rouge_score"), ({"aggregate": "median"}, "mean, max")],
)
def test_bad_names_raise_user_error_naming_the_choices(kwargs, named):
    with pytest.raises(UserError, match=named):
        RougeScorer(**kwargs)


def test_references_are_tokenized_once_across_calls():
    scorer = RougeScorer("whitespace")
    seen: list[str] = []
    tokenize_batch = scorer.tokenizer.tokenize_batch

    def counting(texts, progress=False):
        seen.extend(texts)
        return tokenize_batch(texts, progress)

    scorer.tokenizer.tokenize_batch = counting
    refs = [["x y z", "y z"], ["x y z"]]
    first = scorer.score(["x y", "x y"], refs)
    assert sorted(seen) == ["x y", "x y z", "y z"]  # each distinct text once
    seen.clear()
    second = scorer.score(["x y", "z"], refs)
    assert sorted(seen) == ["x y", "z"]  # references came from the cache
    assert first["rouge1"] == score_rouge(["x y", "x y"], refs, tokenizer="whitespace")["rouge1"]
    assert second == score_rouge(["x y", "z"], refs, tokenizer="whitespace")


def test_progress_bar_goes_to_stderr(capsys):
    score_rouge(["a b"], [["a b"]], tokenizer="char", progress=True)
    assert "rouge" in capsys.readouterr().err


@pytest.mark.skipif(
    not (SHARED_DATA / "dialogsum-ko-2024" / "dev.csv").is_file(),
    reason=f"{SHARED_DATA} (shared Korean dev sets) not present",
)
def test_two_korean_translations_reproduce_the_issue_authors_rouge_score_numbers():
    from sumexp.data.tables import read_table

    ko = read_table(SHARED_DATA / "dialogsum-ko" / "dev.csv")
    ko24 = read_table(SHARED_DATA / "dialogsum-ko-2024" / "dev.csv").set_index("fname")["summary"]
    ko = ko[ko["fname"].isin(ko24.index)]
    result = score_rouge(list(ko["summary"]), [[ko24[f]] for f in ko["fname"]], tokenizer="rouge_score")
    assert [round(100 * result[m]["fmeasure"], 1) for m in METRICS] == [78.4, 59.7, 77.3]
    assert math.isclose(result["rouge_mean"], (78.4 + 59.7 + 77.3) / 3, abs_tol=0.1)
