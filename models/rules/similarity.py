"""How alike two problem texts are, and which answered problems a new one resembles.

Chinese is written without spaces, and a word segmenter would be a dependency with its own
dictionary, so texts are compared by character unigrams and bigrams (whole words for Latin
letters and digits). On top of those, a small vocabulary of the problems firms raise maps the
different ways of saying one thing to one term (断电 and 跳闸 are both 停电), which counts
more: two reports about the same thing in other words then score high, and two reports that
share a frame (我们厂扩大生产需要…) but not the thing asked about score low. Terms are weighted
by TF-IDF over the indexed problems and compared by cosine, a score in [0, 1].
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

# At or above this score a new report is shown the answered one first. Chosen on
# tests/data/similar_pairs.csv for precision, since a wrong suggestion annoys a firm while a
# missed one only files the report as usual: there it gives precision 0.92 and recall 0.60,
# where 0.50 would give 0.90 and 0.71 with no margin (bench/similarity.py prints the curve).
SIMILAR_THRESHOLD = 0.55
_ROUNDING = 1.0 - 1e-9  # a ceiling summed in another order may round below the score it bounds

# Politeness, pronouns, question words and particles that every report carries: they say
# nothing about the problem, and they would make unrelated reports look alike. Matched
# greedily, longest first, so a word is taken before the single characters inside it.
STOP_WORDS: frozenset[str] = frozenset(
    {
        "的", "了", "吗", "呢", "吧", "啊", "呀", "哦", "嘛",
        "请", "问", "请问", "想问", "一下", "了解", "您好", "你好", "谢谢", "麻烦",
        "我", "您", "你", "我们", "你们", "咱们", "我司", "我厂", "公司", "企业",
        "怎么", "怎么办", "怎么办理", "怎样", "如何", "什么", "哪些", "哪里", "哪个",
        "是否", "能否", "可否", "能不能", "可不可以", "可以", "有没有", "是不是", "需要",
        "问题", "情况", "这个", "那个", "目前", "现在", "已经", "一直",
    }
)  # fmt: skip

# Words holding a stop character that carry meaning: 申请 (apply) must not lose its 请.
KEEP_WORDS: frozenset[str] = frozenset({"申请", "请求", "提问", "询问", "问询"})

# The things firms ask about, each with other ways of saying it. A text mentioning any of
# them gets the term as "#" + the key, beside its n-grams. Kept short and general: a miss
# only falls back to the n-grams, but a wrong synonym joins different problems.
TERMS: dict[str, tuple[str, ...]] = {
    # financing
    "贷款": ("放贷", "借款", "信贷", "贷不到", "贷"),
    "信用贷款": ("信用贷", "纯信用", "免抵押", "没有抵押"),
    "评估": ("评估费",),
    "担保": ("担保费", "担保贷"),
    "贴息": (),
    "续贷": ("转贷", "过桥", "先还后贷", "抽贷", "断贷", "压贷"),
    "征信": ("信用记录", "逾期记录"),
    "抵押": ("抵押物",),
    "质押": (),
    "利率": ("利息", "融资成本"),
    "基金": ("引导基金", "产业基金", "股权投资"),
    "上市": ("挂牌上市", "新三板"),
    "授信": ("额度",),
    "催收": ("拖欠货款", "欠款", "欠我们", "不给钱", "拖欠", "没付", "不结算", "未结算", "没结算"),
    # water, power, gas
    "用电报装": ("报装用电", "报装", "接电", "新装电表", "装表", "通电", "用电申请"),
    "停电": ("断电", "跳闸", "没电", "来电"),
    "停气": ("断气",),
    "停水": (),
    "接入": ("接通", "接到", "接进"),
    "价格": ("气价", "水价", "涨价", "下调", "降价"),
    "增容": ("扩容", "容量不够", "负荷不够"),
    "变压器": (),
    "专线": (),
    "临时用电": ("施工用电",),
    "电价": ("峰谷", "分时电价"),
    "电费": (),
    "天然气": ("燃气", "用气", "供气", "通气"),
    "供水": ("自来水", "水压", "用水", "没水"),
    "水费": (),
    "污水": ("废水", "排污", "污水管网"),
    "雨水": ("积水", "排涝"),
    "光伏": (),
    # labour
    "招工": ("招聘", "招人", "缺工", "用工", "普工", "招不到", "难招", "劳务"),
    "社保": ("参保", "社会保险", "养老保险"),
    "缴费基数": ("缴费基础",),
    "稳岗": (),
    "培训": ("技能提升",),
    "工伤": ("受伤", "受了伤"),
    "医药费": ("医疗费", "垫付"),
    "工资": ("薪酬", "欠薪", "薪资"),
    "住房": ("公租房", "人才公寓", "宿舍", "住宿"),
    "入学": ("上学", "读书", "子女教育"),
    "校企合作": ("职业学校", "技工学校", "职校", "定向培养"),
    "劳动合同": ("劳动纠纷", "劳动仲裁"),
    "人才": ("大学生", "高校毕业生", "应届"),
    # policy subsidies
    "奖补": ("补贴", "补助", "奖励", "补偿", "奖励资金"),
    "技改": ("技术改造",),
    "规上": ("升规", "规模以上"),
    "高新技术企业": ("高企", "高新企业"),
    "专精特新": (),
    "加计扣除": (),
    "参展": ("展位", "展会", "展销", "广交会", "博览会", "农博会"),
    "首台套": ("首台",),
    "审计报告": (),
    "认证": (),
    "退税": ("留抵",),
    "税费": ("契税", "印花税", "房产税", "土地使用税"),
    "税务": ("税务登记",),
    "银行账户": ("开户", "基本户"),
    "税收优惠": ("所得税优惠", "减免税", "减税"),
    "政策辅导": ("辅导", "指导申报", "上门指导", "政策解读"),
    # land
    "用地指标": ("土地指标",),
    "用地": ("土地", "地块", "宗地", "空地"),
    "出让": ("招拍挂", "挂牌", "拍地", "拍一块"),
    "出让金": ("土地款", "地价款"),
    "征迁": ("拆迁", "迁移", "迁走", "征地"),
    "容积率": ("加层", "加盖"),
    "闲置": ("空余", "空置"),
    "出租": ("租给", "租赁", "租出去"),
    "划拨": (),
    "土地用途": ("改变用途", "用途变更", "改成商业"),
    "续期": ("到期续",),
    # property
    "产权证": (
        "不动产证",
        "不动产权证",
        "房产证",
        "土地证",
        "不动产登记",
        "办证",
        "产权",
        "不动产权证书",
    ),
    "抵押登记": (),
    "抵押注销": ("注销抵押",),
    "变更登记": ("更名", "名称变更", "改名"),
    "分割": (),
    "消防验收": (),
    "规划核实": (),
    "登记费": (),
    # construction
    "施工许可": ("开工许可",),
    "容缺": ("先行开工", "先开工"),
    "环评": ("环境影响评价",),
    "安评": ("安全评价",),
    "图审": ("审图", "施工图审查", "图纸审查"),
    "竣工验收": ("联合验收", "竣工", "完工"),
    "夜间施工": ("晚上施工", "夜里施工"),
    "节能审查": ("能评", "节能评估"),
    "立项备案": ("立项", "项目备案", "备案"),
    "道路": ("修路", "路面"),
    "扬尘": (),
    "规划许可": (),
    "质保金": ("保证金",),
    # market
    "政府采购": ("采购目录", "采购名录"),
    "产销对接": ("推介", "对接会", "推给"),
    "滞销": ("卖不出去", "销路", "压库", "积压"),
    "外贸": ("出口", "海外市场", "报关"),
    "电商": ("直播", "带货", "网店"),
    "商标": ("品牌",),
    "维权": ("仿冒", "假冒", "侵权", "山寨"),
    "注册": (),
    "建材": (),
    "商超": ("超市",),
    "物流": ("快递", "冷链"),
    "质量检测": ("检测", "检验"),
    "营业执照": ("经营范围",),
    "注销": (),
    "许可证": ("生产许可",),
    # what is asked about the problem
    "材料": ("资料",),
    "时限": ("多长时间", "多久", "要多长"),
    "进度": (
        "到账",
        "拨付",
        "兑付",
        "兑现",
        "发放",
        "还没批",
        "卡住",
        "办不下来",
        "拿不到",
        "批不下来",
        "拖了",
        "太慢",
    ),
    "流程": ("手续", "程序", "步骤", "报批"),
    "条件": ("满足哪些",),
    "费用": ("收费", "费率", "进场费"),
    "退回": ("驳回", "退改", "不合规", "不予受理"),
    "分期": (),
}

# How much a vocabulary term counts against one n-gram. Chosen with the threshold: high
# enough that the thing asked about outweighs the shared frame of a report, low enough that
# two reports on one topic but different questions (报装 materials vs 报装 delays) stay apart.
TERM_WEIGHT = 4.0

_TERM_MARK = "#"
_SURFACES: dict[str, str] = {
    surface: key for key, variants in TERMS.items() for surface in (key, *variants)
}
_LONGEST_SURFACE = max(map(len, _SURFACES))
_LEXICON: dict[str, bool] = {word: False for word in STOP_WORDS} | dict.fromkeys(KEEP_WORDS, True)
_LONGEST_WORD = max(map(len, _LEXICON))
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_PIECES = re.compile(rf"([{_CJK}]+)|([a-z]+|[0-9]+(?:\.[0-9]+)?)")


@dataclass(frozen=True, slots=True)
class Match:
    id: int
    score: float


def normalise(text: str) -> str:
    """Full-width to half-width, case folded: 'ＡＢＣ１２' reads as 'abc12'."""
    return unicodedata.normalize("NFKC", text).casefold()


def tokens(text: str) -> list[str]:
    """The terms of `text`: vocabulary terms ('#停电'), CJK unigrams and bigrams, Latin words
    and numbers. Stop words are dropped.

    Punctuation, emoji and stop words separate runs, so no bigram spans them.
    """
    terms: list[str] = []
    for match in _PIECES.finditer(normalise(text)):
        cjk, word = match.groups()
        if word is not None:
            terms.append(word)
            continue
        terms.extend(_vocabulary_terms(cjk))
        for run in _without_stop_words(cjk):
            terms.extend(run)
            terms.extend(run[i : i + 2] for i in range(len(run) - 1))
    return terms


def _vocabulary_terms(run: str) -> list[str]:
    """The TERMS in a CJK run, longest surface first, left to right."""
    found: list[str] = []
    i = 0
    while i < len(run):
        for size in range(min(_LONGEST_SURFACE, len(run) - i), 0, -1):
            key = _SURFACES.get(run[i : i + size])
            if key is not None:
                found.append(_TERM_MARK + key)
                i += size
                break
        else:
            i += 1
    return found


def _without_stop_words(run: str) -> list[str]:
    """Split a CJK run at its stop words, which are dropped."""
    runs: list[str] = []
    kept: list[str] = []
    i = 0
    while i < len(run):
        for size in range(min(_LONGEST_WORD, len(run) - i), 0, -1):
            keep = _LEXICON.get(run[i : i + size])
            if keep is not None:
                break
        else:
            size, keep = 1, True
        if keep:
            kept.append(run[i : i + size])
        elif kept:
            runs.append("".join(kept))
            kept = []
        i += size
    if kept:
        runs.append("".join(kept))
    return runs


def _term_weights(text: str) -> dict[str, float]:
    """Sublinear term frequency: a word said three times is not three times the topic."""
    return {
        term: (1.0 + math.log(count)) * (TERM_WEIGHT if term[0] == _TERM_MARK else 1.0)
        for term, count in Counter(tokens(text)).items()
    }


class KnowledgeIndex:
    """Answered problems by id, searchable by TF-IDF cosine through an inverted index.

    Document frequencies change with every add, and with them every document's length; the
    lengths are recomputed once, lazily, at the next search after a change.
    """

    def __init__(self, documents: Iterable[tuple[int, str]] = ()) -> None:
        self._docs: dict[int, dict[str, float]] = {}
        self._postings: dict[str, dict[int, float]] = {}
        self._idf: dict[str, float] = {}
        self._norms: dict[int, float] = {}
        # Per term, the most any document's unit vector holds of it (times its idf): the
        # ceiling of what that term can add to a cosine, for `search`'s at_least.
        self._peaks: dict[str, float] = {}
        self._stale = False
        for doc_id, text in documents:
            self.add(doc_id, text)

    def __len__(self) -> int:
        return len(self._docs)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._docs

    def add(self, doc_id: int, text: str) -> None:
        """Index `text` as `doc_id`, replacing what that id held before."""
        self.remove(doc_id)
        weights = _term_weights(text)
        self._docs[doc_id] = weights
        for term, weight in weights.items():
            self._postings.setdefault(term, {})[doc_id] = weight
        self._stale = True

    def remove(self, doc_id: int) -> None:
        """Forget `doc_id`; nothing happens if it is not indexed."""
        weights = self._docs.pop(doc_id, None)
        if weights is None:
            return
        for term in weights:
            posting = self._postings[term]
            del posting[doc_id]
            if not posting:
                del self._postings[term]
        self._stale = True

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency; a term no document has is the rarest of all."""
        self._refresh()
        return self._idf.get(term, self._unseen_idf)

    def search(self, query: str, limit: int = 5, at_least: float = 0.0) -> list[Match]:
        """The documents most like `query`, best first, at most `limit` of them, none scoring
        below `at_least`.

        A document must share a word, a pair of characters or a vocabulary term with the
        query, when any of the query's is indexed; otherwise two characters (one for a
        one-character query), so that 专票 finds 专用发票. One character in common is chance:
        发 of 航天发射 does not find 发票.
        """
        if limit <= 0:
            return []
        self._refresh()
        vector = self._vector(_term_weights(query))
        query_norm = _norm(vector)
        if query_norm == 0.0:
            return []
        if at_least > 0.0 and self._ceiling(vector) < at_least * query_norm * _ROUNDING:
            # No document can score enough: the postings need not be walked. Most reports
            # are like no answered problem, and this is what their search costs.
            return []
        singles = {term: weight for term, weight in vector.items() if len(term) == 1}
        anchors = {
            term: weight
            for term, weight in vector.items()
            if len(term) > 1 and term in self._postings
        }
        if anchors:
            scores, _ = self._dot_products(anchors, count_shared=False)
            # Single characters only add to the documents already found: walking all their
            # postings, the longest, would let chance characters bring in most of the index.
            for term, weight in singles.items():
                posting = self._postings.get(term)
                if posting is None:
                    continue
                weight *= self._idf[term]
                if len(posting) < len(scores):
                    for doc_id, doc_weight in posting.items():
                        if doc_id in scores:
                            scores[doc_id] += weight * doc_weight
                else:
                    for doc_id in scores:
                        scores[doc_id] += weight * posting.get(doc_id, 0.0)
        else:
            scores, shared = self._dot_products(singles, count_shared=True)
            needed = min(2, len(singles))
            scores = {doc_id: s for doc_id, s in scores.items() if shared[doc_id] >= needed}
        best = heapq.nsmallest(
            limit, scores.items(), key=lambda item: (-item[1] / self._norms[item[0]], item[0])
        )
        matches = (
            Match(doc_id, min(1.0, score / (query_norm * self._norms[doc_id])))
            for doc_id, score in best
        )
        return [match for match in matches if match.score >= at_least]

    def _ceiling(self, vector: dict[str, float]) -> float:
        """At least the dot product of `vector` with any document's unit vector."""
        peaks = self._peaks
        return sum(weight * peaks.get(term, 0.0) for term, weight in vector.items())

    def _dot_products(
        self, vector: dict[str, float], count_shared: bool
    ) -> tuple[dict[int, float], Counter[int]]:
        """Through the postings: each document sharing a term, its dot product with `vector`
        and, if asked, how many terms it shares (counting them costs a pass over the postings)."""
        scores: dict[int, float] = {}
        shared: Counter[int] = Counter()
        for term, weight in vector.items():
            posting = self._postings.get(term)
            if posting is None:
                continue
            # The document side's idf is applied here, so postings need no rewrite when it moves.
            weight *= self._idf[term]
            for doc_id, doc_weight in posting.items():
                scores[doc_id] = scores.get(doc_id, 0.0) + weight * doc_weight
            if count_shared:
                shared.update(posting.keys())
        return scores, shared

    def vector(self, text: str) -> dict[str, float]:
        """The TF-IDF vector of `text` under this index's document frequencies."""
        self._refresh()
        return self._vector(_term_weights(text))

    def _vector(self, weights: dict[str, float]) -> dict[str, float]:
        unseen = self._unseen_idf
        return {term: weight * self._idf.get(term, unseen) for term, weight in weights.items()}

    @property
    def _unseen_idf(self) -> float:
        return math.log(1 + len(self._docs)) + 1.0

    def _refresh(self) -> None:
        if not self._stale:
            return
        # Smoothed as in scikit-learn: a term in every document still counts a little.
        total = len(self._docs) + 1
        self._idf = {
            term: math.log(total / (1 + len(posting))) + 1.0
            for term, posting in self._postings.items()
        }
        idf = self._idf
        self._norms = {
            doc_id: math.sqrt(sum((weight * idf[term]) ** 2 for term, weight in weights.items()))
            for doc_id, weights in self._docs.items()
        }
        norms = self._norms
        self._peaks = {
            term: idf[term] * max(weight / norms[doc_id] for doc_id, weight in posting.items())
            for term, posting in self._postings.items()
        }
        self._stale = False


def similar(a: str, b: str, index: KnowledgeIndex | None = None) -> float:
    """How alike `a` and `b` are, in [0, 1]; 0 when either has no terms.

    With `index`, terms are weighted by how rare they are among its documents (what
    SIMILAR_THRESHOLD was chosen with); without, every term counts the same.
    """
    if index is None:
        left, right = _term_weights(a), _term_weights(b)
    else:
        left, right = index.vector(a), index.vector(b)
    return _cosine(left, right)


def _cosine(left: dict[str, float], right: dict[str, float]) -> float:
    if len(right) < len(left):
        left, right = right, left
    dot = sum(weight * right.get(term, 0.0) for term, weight in left.items())
    if dot == 0.0:
        return 0.0
    return min(1.0, dot / (_norm(left) * _norm(right)))


def _norm(vector: dict[str, float]) -> float:
    return math.sqrt(sum(weight * weight for weight in vector.values()))
