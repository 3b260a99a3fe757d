"""Micro precision / recall / F1 on exact (subject text, relation, object text) match per sentence.

The usual joint-extraction criterion (OneRel, CasRel, DuIE): a triple counts when both argument strings
and the relation are right; offsets and entity types are not compared. Gold and predicted triples are
deduplicated per sentence, so a pair annotated twice in one sentence is one triple to find. Beside it, the
graph's view (`edge_score`): each triple once over all the sentences, as the graph holds it as one edge.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from extractor.infer import Extractor
from extractor.schema import Example

Key = tuple[str, str, str]
# Minimum confidences a curve is scored at: every hundredth, then finer near 1, where a model that fits its
# training set puts many of its wrong triples too.
CONFIDENCE_GRID = [round(0.01 * n, 2) for n in range(99)] + [0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999]


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


@dataclass(frozen=True)
class CurvePoint:
    """Micro scores when only triples with confidence >= `min_confidence` are kept."""

    min_confidence: float
    precision: float
    recall: float
    f1: float
    predicted: int


@dataclass
class OperatingPoints:
    """Where a clinician reads the graph: the model's own minimum confidence (chosen on its validation
    documents for `target` precision), the graph's edges it keeps, and the lowest minimum confidence reaching
    `target` precision on these sentences."""

    target: float
    model: CurvePoint
    reaching_target: CurvePoint | None  # None: no minimum confidence reaches `target` here
    edges: Score  # `edge_score` at the model's minimum confidence: what a graph of these sentences holds

    def lines(self) -> list[str]:
        m, t, e = self.model, self.reaching_target, self.edges
        own = [
            f"at the model's minimum confidence {m.min_confidence:g} (what extract and ingest keep): "
            f"P {m.precision:.3f} R {m.recall:.3f} F1 {m.f1:.3f}",
            f"  as graph edges (each triple once over these sentences): {e.predicted} edges, "
            f"P {e.precision:.3f}, R {e.recall:.3f} of {e.gold} annotated",
        ]
        if t is None:
            return [*own, f"no minimum confidence reaches precision {self.target:.2f} on these sentences"]
        return [
            *own,
            f"recall at precision {self.target:.2f} on these sentences: R {t.recall:.3f} "
            f"(minimum confidence {t.min_confidence:g}, P {t.precision:.3f})",
        ]


@dataclass
class EvalReport:
    sentences: int
    micro: Score
    relations: list[Score] = field(default_factory=list)  # one row per relation, in gold-count order
    operating: OperatingPoints | None = None

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "sentences": self.sentences,
            "micro": self.micro.as_dict(),
            "relations": [s.as_dict() for s in self.relations],
        }
        if self.operating is not None:
            data["operating_points"] = {**asdict(self.operating), "edges": self.operating.edges.as_dict()}
        return data

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
        if self.operating is not None:
            rows += ["", *self.operating.lines()]
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


def edge_score(gold: list[set[Key]], predicted: list[set[Key]]) -> Score:
    """Each (subject, relation, object) once over all sentences, as the graph merges it into one edge.

    A right triple found in a sentence that does not annotate it counts here, and a triple found in ten
    sentences counts once: the precision is the share of the graph's edges that the documents annotate.
    """
    annotated, found = set().union(*gold), set().union(*predicted)
    return Score("edges", len(annotated), len(found), len(annotated & found))


def kept(predicted: list[dict[Key, float]], min_confidence: float) -> list[set[Key]]:
    """Per sentence, the keys at or above `min_confidence`."""
    return [{k for k, c in p.items() if c >= min_confidence} for p in predicted]


def predictions(
    extractor: Extractor, examples: list[Example], progress: bool = False
) -> tuple[list[set[Key]], list[dict[Key, float]]]:
    """(gold keys, predicted keys with their best confidence) per example: one extraction, any threshold."""
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
    target_precision: float | None = None,
) -> EvalReport:
    """Run the model over the examples' texts and score the triples at or above `min_confidence`.

    With `target_precision`, the report also holds the operating points (`OperatingPoints`).
    """
    extractor = model if isinstance(model, Extractor) else Extractor.load(model)
    gold, predicted = predictions(extractor, examples, progress)
    report = score(gold, kept(predicted, min_confidence))
    if target_precision is not None:
        threshold = extractor.config.min_confidence
        own = confidence_curve(gold, predicted, [threshold])[0]
        curve = confidence_curve(gold, predicted, CONFIDENCE_GRID)
        report.operating = OperatingPoints(
            target_precision,
            own,
            threshold_for_precision(curve, target_precision),
            edge_score(gold, kept(predicted, threshold)),
        )
    return report


def confidence_curve(
    gold: list[set[Key]], predicted: list[dict[Key, float]], thresholds: list[float]
) -> list[CurvePoint]:
    """Precision and recall as the minimum confidence rises: the clinician's precision/recall trade-off."""
    points = []
    for threshold in thresholds:
        micro = score(gold, kept(predicted, threshold)).micro
        points.append(CurvePoint(threshold, micro.precision, micro.recall, micro.f1, micro.predicted))
    return points


def threshold_for_precision(curve: list[CurvePoint], target: float) -> CurvePoint | None:
    """The lowest minimum confidence (the most recall) whose precision reaches `target`, else None."""
    reaching = [p for p in curve if p.predicted and p.precision >= target]
    return min(reaching, key=lambda p: p.min_confidence) if reaching else None
