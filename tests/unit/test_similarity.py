import csv
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.rules.similarity import (
    SIMILAR_THRESHOLD,
    KnowledgeIndex,
    Match,
    similar,
    tokens,
)

PAIRS = Path(__file__).resolve().parents[1] / "data" / "similar_pairs.csv"

ANSWERED = {
    1: "新厂房要接电，用电报装怎么办理，要多长时间？",
    2: "厂区变压器老化，经常停电，影响生产",
    3: "企业扩大生产需要贷款，担保不足怎么办",
    4: "新招工人社保怎么缴纳",
    5: "厂房建好两年了，不动产权证还没办下来",
    6: "电费能不能开增值税专用发票？",
    7: "施工许可证办理要多长时间？能不能先开工",
}


@cache
def _labelled() -> list[tuple[str, str, bool]]:
    with PAIRS.open(encoding="utf-8", newline="") as file:
        return [(row["a"], row["b"], row["similar"] == "1") for row in csv.DictReader(file)]


@cache
def _corpus() -> KnowledgeIndex:
    """An index over every text of the labelled set: a knowledge base of realistic size."""
    texts = sorted({text for a, b, _ in _labelled() for text in (a, b)})
    return KnowledgeIndex(enumerate(texts))


# Tokens


def test_chinese_is_split_into_characters_and_pairs_and_latin_and_digits_into_words() -> None:
    assert tokens("用电ABC123") == ["用", "电", "用电", "abc", "123"]
    assert tokens("申请10kV专线") == ["申", "请", "申请", "10", "kv", "#专线", "专", "线", "专线"]


def test_full_width_letters_and_digits_read_as_half_width() -> None:
    assert tokens("ＡＢＣ１２３") == tokens("abc123") == ["abc", "123"]
    assert similar("ＩＳＯ９００１认证", "iso9001认证") == pytest.approx(1.0)


def test_politeness_pronouns_and_particles_are_dropped() -> None:
    assert tokens("请问我们公司的停电问题") == ["#停电", "停", "电", "停电"]


def test_no_pair_of_characters_spans_punctuation_or_a_dropped_word() -> None:
    assert "电报" not in tokens("用电，报装")
    assert "电报" not in tokens("用电的报装")


def test_apply_keeps_the_character_that_alone_would_be_dropped() -> None:
    assert "申请" in tokens("申请贷款")


def test_different_words_for_one_thing_share_a_vocabulary_term() -> None:
    for text in ("厂区经常断电", "又跳闸了", "什么时候停电"):
        assert "#停电" in tokens(text), text
    assert "#天然气" in tokens("燃气管道接入")


@pytest.mark.parametrize("text", ["", "   \n\t", "😀👍🎉", "！？。，、……", "　"])
def test_text_without_words_has_no_tokens_and_scores_zero(text: str) -> None:
    assert tokens(text) == []
    assert similar(text, text) == 0.0
    assert similar(text, "经常停电") == 0.0
    index = KnowledgeIndex(ANSWERED.items())
    assert index.search(text) == []
    assert similar(text, ANSWERED[2], index) == 0.0


# Scores


def test_identical_texts_score_one() -> None:
    index = KnowledgeIndex(ANSWERED.items())
    for text in ANSWERED.values():
        assert similar(text, text) == pytest.approx(1.0)
        assert similar(text, text, index) == pytest.approx(1.0)


def test_texts_sharing_nothing_score_zero() -> None:
    assert similar("经常停电", "招工难") == 0.0


@given(st.text(max_size=40), st.text(max_size=40))
def test_a_score_is_between_zero_and_one_and_symmetric(a: str, b: str) -> None:
    score = similar(a, b)
    assert 0.0 <= score <= 1.0
    assert score == pytest.approx(similar(b, a))


def test_a_paraphrase_of_an_answered_issue_is_similar() -> None:
    answered = "厂区变压器老化，经常停电，影响生产"
    report = "厂里的变压器太旧了，隔三差五跳闸停电，生产受影响"
    assert similar(report, answered, _corpus()) >= SIMILAR_THRESHOLD


def test_the_same_problem_in_other_words_is_similar() -> None:
    answered = "我们公司想申请创业担保贷款，需要准备哪些材料？"
    report = "创业担保贷要提交什么资料，到哪个部门办理？"
    assert similar(report, answered, _corpus()) >= SIMILAR_THRESHOLD


def test_another_problem_of_the_same_kind_is_not_similar() -> None:
    assert similar("用电报装怎么办理？", "电费发票怎么开专票？", _corpus()) < SIMILAR_THRESHOLD
    assert (
        similar("新员工社保参保登记怎么办？", "社保缴费基数怎么调整", _corpus()) < SIMILAR_THRESHOLD
    )


def test_the_same_polite_frame_around_different_problems_is_not_similar() -> None:
    score = similar(
        "您好，请问我们公司的用电报装怎么办理？", "您好，请问我们公司的产权证怎么办理？"
    )
    assert score < SIMILAR_THRESHOLD
    assert (
        similar(
            "您好，请问我们公司的用电报装怎么办理？",
            "您好，请问我们公司的产权证怎么办理？",
            _corpus(),
        )
        < SIMILAR_THRESHOLD
    )


# The index


def test_search_ranks_the_answered_issue_a_report_repeats_first() -> None:
    index = KnowledgeIndex(ANSWERED.items())
    matches = index.search("厂里变压器太旧，老是跳闸断电")
    assert matches[0].id == 2
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    assert all(0.0 < m.score <= 1.0 for m in matches)


def test_keyword_search_finds_the_documents_about_those_words() -> None:
    index = KnowledgeIndex(ANSWERED.items())
    assert index.search("用电 报装")[0].id == 1
    assert index.search("产权证")[0].id == 5
    assert index.search("发票")[0].id == 6
    assert index.search("社保")[0].id == 4


def test_a_search_sharing_nothing_finds_nothing() -> None:
    assert KnowledgeIndex(ANSWERED.items()).search("航天发射") == []
    assert KnowledgeIndex().search("停电") == []


def test_one_character_in_common_is_not_a_match_unless_the_query_is_one_character() -> None:
    index = KnowledgeIndex(ANSWERED.items())
    # 发 of 航天发射 is also in 发票 of the invoice question.
    assert index.search("航天发射") == []
    assert 6 in [m.id for m in index.search("发", limit=10)]


def test_an_abbreviation_finds_its_words_by_their_characters() -> None:
    # 专票 is short for 增值税专用发票: no pair of characters in common, but two characters.
    assert KnowledgeIndex(ANSWERED.items()).search("专票")[0].id == 6


def test_search_returns_at_most_the_limit() -> None:
    index = KnowledgeIndex(ANSWERED.items())
    assert len(index.search("怎么办理 多长时间 停电 贷款 社保", limit=2)) == 2
    assert index.search("停电", limit=0) == []


def test_a_search_score_is_the_similarity_of_query_and_document() -> None:
    index = KnowledgeIndex(ANSWERED.items())
    query = "施工许可还没批下来，项目能不能容缺先行开工"
    for match in index.search(query, limit=10):
        assert match.score == pytest.approx(similar(query, ANSWERED[match.id], index))


def test_at_least_drops_only_what_scores_below_it() -> None:
    index = _corpus()
    for a, b, _ in _labelled()[:200]:
        for query in (a, b):
            for at_least in (0.2, SIMILAR_THRESHOLD, 0.8):
                every = index.search(query, limit=3)
                assert index.search(query, limit=3, at_least=at_least) == [
                    m for m in every if m.score >= at_least
                ]


def test_a_query_like_nothing_is_answered_without_walking_the_postings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = _corpus()
    query = "航天发射场的火箭燃料储存问题"
    assert index.search(query, limit=1)  # it shares characters with some documents
    index.search(query, limit=1, at_least=SIMILAR_THRESHOLD)  # refreshed before the patch

    def walked(*_: object, **__: object) -> None:
        raise AssertionError("the postings were walked")

    monkeypatch.setattr(index, "_dot_products", walked)
    assert index.search(query, limit=1, at_least=SIMILAR_THRESHOLD) == []


def test_equal_scores_keep_the_older_document_first() -> None:
    index = KnowledgeIndex([(9, "经常停电"), (3, "经常停电")])
    score = index.search("停电")[0].score
    assert index.search("停电") == [Match(3, score), Match(9, score)]


def test_a_word_grows_common_as_documents_are_added() -> None:
    index = KnowledgeIndex([(1, "经常停电"), (2, "招工难")])
    rare = index.idf("停电")
    index.add(3, "夜间停电")
    index.add(4, "停电赔偿")
    assert index.idf("停电") < rare
    # A word no document has counts as the rarest of all.
    assert index.idf("航天") > index.idf("招工")


def test_adding_an_id_again_replaces_its_text_and_removing_forgets_it() -> None:
    index = KnowledgeIndex([(1, "经常停电"), (2, "招工难")])
    index.add(1, "贷款担保不足")
    assert len(index) == 2
    assert [m.id for m in index.search("停电")] == []
    assert index.search("担保")[0].id == 1
    index.remove(1)
    index.remove(42)
    assert 1 not in index
    assert index.search("担保") == []


def test_a_document_without_words_is_indexed_harmlessly() -> None:
    index = KnowledgeIndex([(1, "😀"), (2, "经常停电")])
    assert [m.id for m in index.search("停电")] == [2]


def test_a_search_after_an_add_sees_the_new_document() -> None:
    index = KnowledgeIndex([(1, "经常停电")])
    assert index.search("社保")[:1] == []
    index.add(2, "新招工人社保怎么缴纳")
    assert index.search("社保")[0].id == 2


# The labelled set


def test_the_labelled_set_is_large_and_balanced_enough() -> None:
    pairs = _labelled()
    positives = sum(label for _, _, label in pairs)
    assert len(pairs) >= 150
    assert 0.4 <= positives / len(pairs) <= 0.5
    assert len({(a, b) for a, b, _ in pairs}) == len(pairs)


def test_the_threshold_is_precise_on_the_labelled_set_and_finds_half_the_repeats() -> None:
    index = _corpus()
    said_similar = [
        (label, similar(a, b, index) >= SIMILAR_THRESHOLD) for a, b, label in _labelled()
    ]
    true_positives = sum(1 for label, said in said_similar if label and said)
    false_positives = sum(1 for label, said in said_similar if not label and said)
    positives = sum(1 for label, _ in said_similar if label)
    precision = true_positives / (true_positives + false_positives)
    recall = true_positives / positives
    assert precision >= 0.9, (precision, recall)
    assert recall >= 0.5, (precision, recall)
