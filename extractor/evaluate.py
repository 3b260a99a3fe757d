"""Micro precision / recall / F1 on exact (subject text, relation, object text) match per sentence.

The usual joint-extraction criterion (OneRel, CasRel, DuIE): a triple counts when both argument strings
and the relation are right; offsets and entity types are not compared. Gold and predicted triples are
deduplicated per sentence, so a pair annotated twice in one sentence is one triple to find.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from extractor.infer import Extractor
from extractor.schema import Example

Key = tuple[str, str, str]


@dataclass
class Score:
    name: str
    gold: int = 0
    predicted: int = 0
    correct: int = 0

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "precision": self.precision, "recall": self.recall, "f1": self.f1}


@dataclass
class EvalReport:
    sentences: int
    micro: Score
    relations: list[Score] = field(default_factory=list)  # one row per relation, in gold-count order

    @property
    def precision(self) -> float:
        return self.micro.precision

    @property
    def recall(self) -> float:
        return self.micro.recall

    @property
    def f1(self) -> float:
        return self.micro.f1

    def to_json(self) -> dict[str, object]:
        return {
            "sentences": self.sentences,
            "micro": self.micro.as_dict(),
            "relations": [s.as_dict() for s in self.relations],
        }

    def to_text(self) -> str:
        """A fixed-width table: one row per relation, then the micro average."""
        width = max([len(s.name) for s in self.relations] + [len("micro")])
        head = f"{'relation':<{width}}  {'gold':>6} {'pred':>6} {'correct':>7}  {'P':>6} {'R':>6} {'F1':>6}"
        rows = [head, "-" * len(head)]
        for s in [*self.relations, self.micro]:
            if s is self.micro:
                rows.append("-" * len(head))
            rows.append(
                f"{s.name:<{width}}  {s.gold:>6} {s.predicted:>6} {s.correct:>7}  "
                f"{s.precision:>6.3f} {s.recall:>6.3f} {s.f1:>6.3f}"
            )
        return "\n".join(rows)


def score(gold: list[set[Key]], predicted: list[set[Key]]) -> EvalReport:
    """Compare per-sentence sets of (subject, relation, object) keys."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold sentences but {len(predicted)} predicted")
    counts: dict[str, Counter[str]] = {}
    for g, p in zip(gold, predicted, strict=True):
        for keys, what in ((g, "gold"), (p, "predicted"), (g & p, "correct")):
            for _, relation, _ in keys:
                counts.setdefault(relation, Counter())[what] += 1
    rows = [Score(name, c["gold"], c["predicted"], c["correct"]) for name, c in counts.items()]
    rows.sort(key=lambda s: (-s.gold, s.name))
    micro = Score("micro", *(sum(getattr(s, f) for s in rows) for f in ("gold", "predicted", "correct")))
    return EvalReport(sentences=len(gold), micro=micro, relations=rows)


@dataclass(frozen=True)
class CurvePoint:
    """Micro scores when only triples with confidence >= `min_confidence` are kept."""

    min_confidence: float
    precision: float
    recall: float
    f1: float
    predicted: int


def predictions(
    model: Extractor | Path | str, examples: list[Example], progress: bool = False
) -> tuple[list[set[Key]], list[dict[Key, float]]]:
    """(gold keys, predicted keys with their best confidence) per example: one extraction, any threshold."""
    extractor = model if isinstance(model, Extractor) else Extractor.load(model)
    found = extractor.extract([e.text for e in examples], progress=progress, min_confidence=0.0)
    predicted = []
    for per_text in found:
        best: dict[Key, float] = {}
        for t in per_text:
            best[t.key()] = max(best.get(t.key(), 0.0), t.confidence)
        predicted.append(best)
    return [{t.key() for t in e.triples} for e in examples], predicted


def evaluate(
    model: Extractor | Path | str,
    examples: list[Example],
    progress: bool = False,
    min_confidence: float = 0.0,
) -> EvalReport:
    """Run the model over the examples' texts and score the triples at or above `min_confidence`."""
    gold, predicted = predictions(model, examples, progress)
    return score(gold, [{k for k, c in p.items() if c >= min_confidence} for p in predicted])


def confidence_curve(
    gold: list[set[Key]], predicted: list[dict[Key, float]], thresholds: list[float]
) -> list[CurvePoint]:
    """Precision and recall as the minimum confidence rises: the clinician's precision/recall trade-off."""
    points = []
    for threshold in thresholds:
        micro = score(gold, [{k for k, c in p.items() if c >= threshold} for p in predicted]).micro
        points.append(CurvePoint(threshold, micro.precision, micro.recall, micro.f1, micro.predicted))
    return points


def threshold_for_precision(curve: list[CurvePoint], target: float) -> CurvePoint | None:
    """The lowest minimum confidence (the most recall) whose precision reaches `target`, else None."""
    reaching = [p for p in curve if p.predicted and p.precision >= target]
    return min(reaching, key=lambda p: p.min_confidence) if reaching else None


def save_report(report: EvalReport, path: Path | str) -> None:
    Path(path).write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
