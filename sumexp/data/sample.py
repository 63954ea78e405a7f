"""The embedded default data: Korean dialogues in the competition format, made deterministically.

Every summary follows from its dialogue (who met where, what was bought for how much, ...), so a
tiny model can learn the mapping in a minute on a CPU and its ROUGE visibly rises with training.
Write the files with `python -m sumexp.data.sample OUT_DIR` to look at them.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pandas as pd

SPLIT_SIZES = {"train": 300, "dev": 50, "test": 50}

DAYS = ["오늘", "내일", "모레", "월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"]
TIMES = ["아침 9시", "오전 10시", "오전 11시", "낮 12시", "오후 1시", "오후 3시", "오후 5시", "저녁 7시"]
PLACES = ["도서관", "카페", "공원", "학교 앞", "영화관", "지하철역", "식당", "회사 로비"]
ACTIVITIES = ["숙제", "발표 준비", "운동", "영화 관람", "점심 식사", "회의", "산책", "공부"]
ITEMS = ["셔츠", "가방", "신발", "모자", "재킷", "우산", "시계", "목도리"]
COLORS = ["빨간색", "파란색", "검은색", "흰색", "노란색", "회색", "초록색"]
PRICES = ["만 원", "2만 원", "3만 원", "5만 원", "7만 원", "10만 원", "15만 원"]
SYMPTOMS = ["두통", "기침", "열", "복통", "목 통증", "허리 통증", "콧물"]
ADVICE = [  # (what the doctor says, how the summary reports it)
    ("푹 쉬는 게", "푹 쉬라는"),
    ("물을 많이 마시는 게", "물을 많이 마시라는"),
    ("약을 먹는 게", "약을 먹으라는"),
    ("가벼운 운동을 하는 게", "가벼운 운동을 하라는"),
    ("검사를 받는 게", "검사를 받으라는"),
]
CITIES = ["부산", "제주도", "경주", "강릉", "전주", "여수", "속초"]
TRANSPORTS = ["기차", "비행기", "버스", "자동차", "배"]
MONTHS = ["1월", "3월", "5월", "7월", "8월", "10월", "12월"]
FILLERS = ["그렇군요.", "알겠어요.", "정말요?", "좋은 생각이에요.", "네, 맞아요.", "음, 잠깐만요."]


def josa(word: str, pair: str) -> str:
    """Pick the Korean particle (e.g. "은/는") that fits the word's last syllable."""
    with_final, without_final = pair.split("/")
    last = word.rstrip("#")[-1]
    if "가" <= last <= "힣":
        has_final = (ord(last) - ord("가")) % 28 != 0
    else:  # digits in placeholders: 1 (일), 3 (삼), 6, 7, 8 end in a consonant
        has_final = last in "013678"
    return word + (with_final if has_final else without_final)


def _meeting(r: random.Random) -> tuple[list[str], str]:
    day, time, place, act = r.choice(DAYS), r.choice(TIMES), r.choice(PLACES), r.choice(ACTIVITIES)
    turns = [
        f"#Person1#: {day} 시간 있어요? 같이 {act} 할래요?",
        "#Person2#: 좋아요. 어디에서 만날까요?",
        f"#Person1#: {place}에서 {time}에 만나요.",
        f"#Person2#: {r.choice(FILLERS)} 그럼 {day} {time}에 봐요.",
    ]
    return turns, f"#Person1#과 #Person2#는 {day} {time}에 {place}에서 만나 {josa(act, '을/를')} 하기로 한다."


def _shopping(r: random.Random) -> tuple[list[str], str]:
    item, color, price = r.choice(ITEMS), r.choice(COLORS), r.choice(PRICES)
    turns = [
        "#Person1#: 어서 오세요. 무엇을 찾으세요?",
        f"#Person2#: {josa(item, '을/를')} 사고 싶어요. {color} 있어요?",
        f"#Person1#: 네, 있어요. {color} {josa(item, '은/는')} {price}입니다.",
        f"#Person2#: {r.choice(FILLERS)} 이걸로 살게요.",
    ]
    return turns, f"#Person2#는 가게에서 {color} {josa(item, '을/를')} {price}에 산다."


def _reservation(r: random.Random) -> tuple[list[str], str]:
    day, time, people = r.choice(DAYS), r.choice(TIMES), r.randint(2, 8)
    turns = [
        f"#Person1#: 여보세요, {day} {time}에 예약하고 싶어요.",
        "#Person2#: 몇 분이세요?",
        f"#Person1#: {people}명이요.",
        "#Person2#: 연락처를 알려 주세요.",
        "#Person1#: #PhoneNumber#입니다.",
    ]
    return turns, f"#Person1#은 식당에 {day} {time} {people}명 자리를 예약하고 #PhoneNumber#를 남긴다."


def _doctor(r: random.Random) -> tuple[list[str], str]:
    symptom, days, advice = r.choice(SYMPTOMS), r.randint(2, 7), r.choice(ADVICE)
    turns = [
        "#Person2#: 어디가 아프세요?",
        f"#Person1#: {days}일째 {josa(symptom, '이/가')} 있어요.",
        f"#Person2#: {r.choice(FILLERS)} 진찰해 볼게요.",
        f"#Person2#: 심하지 않아요. {advice[0]} 좋겠어요.",
    ]
    return turns, f"#Person1#은 {days}일째 {josa(symptom, '이/가')} 있어 진찰을 받고 {advice[1]} 조언을 듣는다."


def _travel(r: random.Random) -> tuple[list[str], str]:
    city, transport, month, days = r.choice(CITIES), r.choice(TRANSPORTS), r.choice(MONTHS), r.randint(2, 6)
    turns = [
        "#Person1#: 휴가 계획 있어요?",
        f"#Person2#: {month}에 {city}에 갈 거예요.",
        f"#Person1#: {r.choice(FILLERS)} 어떻게 가요?",
        f"#Person2#: {transport}로 가서 {days}일 동안 있을 거예요.",
    ]
    return turns, f"#Person2#는 {month}에 {transport}로 {city}에 가서 {days}일 동안 여행할 계획이다."


SCENARIOS = {"약속": _meeting, "쇼핑": _shopping, "예약": _reservation, "병원": _doctor, "여행": _travel}


def make_sample_splits(seed: int = 0) -> dict[str, pd.DataFrame]:
    """train/dev/test in the competition format; test has no summary, like the real test.csv."""
    r = random.Random(seed)
    splits = {}
    for split, size in SPLIT_SIZES.items():
        rows = []
        for i in range(size):
            topic = r.choice(list(SCENARIOS))
            turns, summary = SCENARIOS[topic](r)
            rows.append({"fname": f"{split}_{i}", "dialogue": "\n".join(turns), "summary": summary, "topic": topic})
        frame = pd.DataFrame(rows)
        splits[split] = frame.drop(columns=["summary", "topic"]) if split == "test" else frame
    return splits


def write_sample(out_dir: str | Path) -> None:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, frame in make_sample_splits().items():
        frame.to_csv(out_dir / f"{split}.csv", index=False)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m sumexp.data.sample OUT_DIR")
    write_sample(sys.argv[1])
