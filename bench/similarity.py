"""Benchmark of models/rules/similarity.py: how right it is, and how fast.

Quality: every pair of tests/data/similar_pairs.csv is scored with an index built over all
the texts in the set (as the bot scores a report against its knowledge base), and precision,
recall and F1 of "score >= threshold means similar" are printed at SIMILAR_THRESHOLD and at
a few other thresholds, with the pair count.

Speed: 10,000 synthetic problems (vocabulary terms, frames and filler drawn with a fixed seed)
are indexed, timing the adds and the refresh of document frequencies the first search pays
for; then 1,000 synthetic queries (reports and short /faq keywords) are searched for the top
5, and the mean, median and p99 latency printed.

Each result is one JSON line. Run from the repository root: python bench/similarity.py
"""

from __future__ import annotations

import csv
import json
import random
import statistics
import time
from pathlib import Path

from models.rules.similarity import SIMILAR_THRESHOLD, TERMS, KnowledgeIndex, similar

PAIRS = Path(__file__).resolve().parents[1] / "tests" / "data" / "similar_pairs.csv"
THRESHOLDS = (0.3, 0.4, 0.45, 0.5, SIMILAR_THRESHOLD, 0.6, 0.7)
DOCS = 10_000
QUERIES = 1_000

SUBJECTS = ("我们厂", "园区", "新建车间", "合作社", "药企", "茶厂", "项目", "厂区", "员工", "县里")
FRAMES = (
    "{a}需要办理{t}，要多长时间",
    "{a}的{t}一直没有进展，能不能协调",
    "{t}和{u}能不能一起办",
    "想咨询{t}的申请条件和材料",
    "{a}{t}遇到困难，{u}也有问题",
    "关于{t}，去哪个部门办理",
    "{t}费用太高，有没有优惠政策",
)
# Common characters for the unique part of each text (names, places, products), so that the
# index holds many rare n-grams besides the shared vocabulary, as a real one does.
FILLER = "东西南北山河湖田花茶药机电建材食品纺织包装钢铁木业新城乡镇村路街大小高低红绿"


def main() -> None:
    _quality()
    _speed()


def _quality() -> None:
    with PAIRS.open(encoding="utf-8", newline="") as file:
        rows = [(row["a"], row["b"], row["similar"] == "1") for row in csv.DictReader(file)]
    texts = sorted({text for a, b, _ in rows for text in (a, b)})
    index = KnowledgeIndex(enumerate(texts))
    scored = [(similar(a, b, index), label) for a, b, label in rows]
    for threshold in sorted(set(THRESHOLDS)):
        tp = sum(1 for score, label in scored if label and score >= threshold)
        fp = sum(1 for score, label in scored if not label and score >= threshold)
        fn = sum(1 for score, label in scored if label and score < threshold)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        _emit(
            bench="similarity_quality",
            threshold=threshold,
            chosen=threshold == SIMILAR_THRESHOLD,
            pairs=len(scored),
            positives=tp + fn,
            precision=round(precision, 3),
            recall=round(recall, 3),
            f1=round(f1, 3),
        )


def _speed() -> None:
    rng = random.Random(20260302)
    vocabulary = [surface for key, variants in TERMS.items() for surface in (key, *variants)]
    documents = [_synthetic_text(rng, vocabulary) for _ in range(DOCS)]
    queries = [
        _synthetic_text(rng, vocabulary) if n % 2 else " ".join(rng.sample(vocabulary, 2))
        for n in range(QUERIES)
    ]

    index = KnowledgeIndex()
    started = time.perf_counter()
    for doc_id, text in enumerate(documents):
        index.add(doc_id, text)
    added = time.perf_counter()
    index.idf("")  # the lazy refresh of document frequencies, which the first search pays
    refreshed = time.perf_counter()

    latencies = []
    for query in queries:
        before = time.perf_counter()
        index.search(query, limit=5)
        latencies.append((time.perf_counter() - before) * 1000)
    latencies.sort()
    _emit(
        bench="similarity_speed",
        docs=DOCS,
        add_seconds=round(added - started, 3),
        refresh_seconds=round(refreshed - added, 3),
        index_seconds=round(refreshed - started, 3),
        queries=QUERIES,
        search_mean_ms=round(statistics.fmean(latencies), 3),
        search_p50_ms=round(latencies[len(latencies) // 2], 3),
        search_p99_ms=round(latencies[int(len(latencies) * 0.99) - 1], 3),
    )


def _synthetic_text(rng: random.Random, vocabulary: list[str]) -> str:
    frame = rng.choice(FRAMES)
    subject = rng.choice(SUBJECTS) + "".join(rng.choices(FILLER, k=rng.randint(2, 4)))
    text = frame.format(a=subject, t=rng.choice(vocabulary), u=rng.choice(vocabulary))
    return text + "，" + "".join(rng.choices(FILLER, k=rng.randint(0, 12)))


def _emit(**fields: object) -> None:
    print(json.dumps(fields, ensure_ascii=False))


if __name__ == "__main__":
    main()
