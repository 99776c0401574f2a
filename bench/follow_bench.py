"""How well followed topics pick the calls and events a member wants to hear about (`knowledge.topic_match`).

    python bench/follow_bench.py [--model use-multilingual] [--grid]

Reads bench/data/follow_topics.jsonl: items (a call or an event of a fictional health cluster, title and
description, French or English) and topics (French or English) with the items labelled relevant; every other
item is not. Each (topic, item) pair is a notification or not; prints precision and recall of notifications at
the chosen thresholds (`MatchThresholds()`), beside a words-only baseline (every topic word's stem in the item)
and meaning alone. `--grid` prints the sweep the thresholds were chosen from (precision >= 0.9 first, then
recall).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import read_jsonl, table  # noqa: E402
from knowledge.embedding import load_embedder  # noqa: E402
from knowledge.text import keywords  # noqa: E402
from knowledge.topic_match import MatchThresholds, TopicMatcher, topic_terms  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "follow_topics.jsonl"


def words_only(topic: str, title: str, description: str) -> bool:
    """The baseline: every word of the topic is in the item, by its stem (no meaning, no other language)."""
    words = set(keywords(f"{title} {description}"))
    stems = [set(keywords(term)) for term in topic_terms(topic)]
    return bool(stems) and all(s and s <= words for s in stems)


def scores(decisions: dict[tuple[str, str], bool], relevant: set[tuple[str, str]]) -> tuple[float, float, int]:
    notified = {pair for pair, yes in decisions.items() if yes}
    right = len(notified & relevant)
    precision = right / len(notified) if notified else 1.0
    return precision, right / len(relevant) if relevant else 1.0, len(notified)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="use-multilingual")
    parser.add_argument("--grid", action="store_true", help="print the threshold sweep")
    args = parser.parse_args()

    rows = read_jsonl(DATA)
    items = {r["id"]: r for r in rows if r["type"] == "item"}
    topics = [r for r in rows if r["type"] == "topic"]
    relevant = {(t["topic"], i) for t in topics for i in t["relevant"]}
    matcher = TopicMatcher(load_embedder(args.model))
    default = matcher.thresholds
    pairs = list(items.items())
    measured: dict[float, dict[tuple[str, str], tuple[float, float]]] = {}
    for similarity in (0.6, 0.65, 0.7, 0.75):
        measured[similarity] = {}
        for t in topics:
            found = matcher.scores(t["topic"], [(i["title"], i["description"]) for _, i in pairs], similarity)
            measured[similarity].update({(t["topic"], item_id): s for (item_id, _), s in zip(pairs, found)})

    def decided(thresholds: MatchThresholds) -> dict[tuple[str, str], bool]:
        return {pair: matcher.decide(dense, words, thresholds).matched
                for pair, (dense, words) in measured[thresholds.topic_word_similarity].items()}

    baseline = {(t["topic"], item_id): words_only(t["topic"], i["title"], i["description"])
                for t in topics for item_id, i in pairs}
    cross = {(t["topic"], item_id) for t in topics for item_id, i in pairs
             if (t["language"] != i["language"])} & relevant
    out = []
    for name, decisions in (("words only (baseline)", baseline),
                            (f"meaning alone (cosine >= {default.alone})", decided(
                                MatchThresholds(with_words=2.0, some_words=2.0, alone=default.alone))),
                            (f"chosen: words+meaning (all words & cosine >= {default.with_words}, or cosine >= "
                             f"{default.alone}; word sim {default.topic_word_similarity})", decided(default))):
        precision, recall, notified = scores(decisions, relevant)
        cross_recall = len({p for p, yes in decisions.items() if yes} & cross) / len(cross) if cross else 1.0
        out.append([name, f"{precision:.2f}", f"{recall:.2f}", f"{cross_recall:.2f}", notified])
    print(f"{len(topics)} topics x {len(items)} items = {len(baseline)} pairs, {len(relevant)} relevant "
          f"({len(cross)} across languages); model {args.model}\n")
    print(table(["rule", "precision", "recall", "recall across languages", "notifications"], out))
    if args.grid:
        grid = []
        for similarity in measured:
            for with_words in (0.0, 0.05, 0.1, 0.15, 0.2):
                for some in (0.2, 0.25, 0.3, 0.4):
                    for alone in (0.3, 0.35, 0.4, 0.5):
                        chosen = MatchThresholds(with_words, some, alone, similarity)
                        precision, recall, notified = scores(decided(chosen), relevant)
                        grid.append((precision >= 0.9, recall, precision, similarity, with_words, some, alone,
                                     notified))
        grid.sort(reverse=True)
        print()
        print(table(["word sim", "all words & cosine >=", "half the words & cosine >=", "cosine alone >=",
                     "precision", "recall", "notifications"],
                    [[g[3], g[4], g[5], g[6], f"{g[2]:.2f}", f"{g[1]:.2f}", g[7]] for g in grid[:15]]))
        misses = sorted(p for p, yes in decided(default).items() if yes != (p in relevant))
        print("\nwrong at the chosen thresholds (topic, item, cosine, words, labelled relevant):")
        for topic, item_id in misses:
            dense, words = measured[default.topic_word_similarity][(topic, item_id)]
            print(f"  {topic!r} {items[item_id]['title']!r} {dense:.2f} {words:.2f} {(topic, item_id) in relevant}")


if __name__ == "__main__":
    main()
