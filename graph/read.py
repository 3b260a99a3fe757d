"""Run a clinician's Cypher safely: reads of the graph only, a server-side timeout, a row limit.

The server says what a query is before it runs: the query is planned with EXPLAIN (nothing runs) and refused
unless the plan's query type is `r` (read), and then unless the plan reads only the graph: no administration
command (the system runtime: users, databases, servers), no command about the server (SHOW or TERMINATE
TRANSACTIONS, SHOW SETTINGS, ...) and no LOAD CSV, which reads files and URLs (the local server allows it no
file and no address either: graph/java/Neo4jLauncher.java). Procedures that are not read-only make the query
type `w` or `s`. Then the query runs in a READ transaction, where Neo4j itself rejects a write that slipped
past the plan; that error is translated too.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import neo4j
import neo4j.graph
import neo4j.time

from graph.connection import (
    DATABASE_NOT_FOUND_CODE,
    HEAP_CODE,
    MEMORY_POOL_CODE,
    graph_error,
    memory_error,
)
from nrskg.errors import GraphError, ReadOnlyQueryError

# The query types a plan reports: r(ead), w(rite), rw, s(chema, procedures of DBMS mode, administration).
READ_QUERY_TYPE = "r"
SYSTEM_RUNTIME = "SYSTEM"  # the runtime the server plans administration commands with
# Commands the server plans on a database (5.26's CommandLogicalPlan leaves): about the server, not the graph.
COMMAND_OPERATORS = frozenset(
    {
        "ShowTransactions", "TerminateTransactions", "ShowSettings", "ShowIndexes", "ShowConstraints",
        "ShowProcedures", "ShowFunctions",
    }
)  # fmt: skip
OUTSIDE_OPERATORS = frozenset({"LoadCSV"})  # operators that read files or URLs rather than the graph
# How the server turns down an administration command that this edition or database does not run.
ADMINISTRATION_CODES = frozenset(
    {
        "Neo.ClientError.Statement.UnsupportedAdministrationCommand",
        "Neo.ClientError.Statement.NotSystemDatabaseError",
    }
)
_ACCESS_MODE_CODE = "Neo.ClientError.Statement.AccessMode"
_PARAMETER_MISSING_CODE = "Neo.ClientError.Statement.ParameterMissing"
# How the server ends a transaction that ran past the timeout it was begun with (or the server's own limit).
TIMEOUT_CODES = frozenset(
    {
        "Neo.ClientError.Transaction.TransactionTimedOut",
        "Neo.ClientError.Transaction.TransactionTimedOutClientConfiguration",
    }
)
_EXPLAIN_OR_PROFILE = re.compile(r"^\s*(?:EXPLAIN|PROFILE)\b", re.IGNORECASE)
_EXPLAIN = "EXPLAIN "  # how a query is planned without running it
# Where the server says a mistake is: `(line 1, column 18 (offset: 17))`, then maybe the line, quoted, and a
# caret under the place.
_POSITION = re.compile(r'\(line \d+, column \d+ \(offset: (\d+)\)\)(\n"[^\n]*"\n *\^)?')
FIX_HINT = "Fix the query"
READ_ONLY_HINT = "Only queries that read the graph run here (MATCH ... RETURN)"
MEMORY_REMEDY = "Ask for less (LIMIT, count() rather than collect())"


@dataclass(frozen=True)
class ReadResult:
    """Rows as plain Python values (graph objects become dicts), and whether the row limit cut them short."""

    columns: list[str]
    rows: list[dict[str, Any]]
    truncated: bool


# The properties that name a node: an entity's key and name, a sentence's or a document's id.
NODE_IDS = ("key", "name", "sent_id", "doc_id")
# The same, read from the graph for the ends of a relationship returned without them (`RETURN r`).
_ENDS = f"""MATCH (n) WHERE elementId(n) IN $ids
RETURN elementId(n) AS id, labels(n) AS labels, n {{{", ".join("." + p for p in NODE_IDS)}}} AS ids"""


def plain(value: Any, ends: Mapping[str, dict[str, Any]] | None = None) -> Any:
    """A JSON-friendly copy of a driver value: nodes and relationships become dicts, temporals ISO strings.

    A relationship carries its `start` and `end` nodes by labels and naming properties (`node_ref`), so a
    reader can tell what it links; `ends` holds those of ends the driver only has as element ids."""
    ends = ends or {}
    if isinstance(value, neo4j.graph.Node):
        return {"labels": sorted(value.labels), **{k: plain(v) for k, v in value.items()}}
    if isinstance(value, neo4j.graph.Relationship):
        start, end = (ends.get(n.element_id) or node_ref(n) for n in value.nodes)
        return {"type": value.type, "start": start, "end": end, **{k: plain(v) for k, v in value.items()}}
    if isinstance(value, neo4j.graph.Path):
        return {
            "path": _path_text(value),
            "nodes": [plain(n) for n in value.nodes],
            "relationships": [plain(r, ends) for r in value.relationships],
        }
    if isinstance(value, neo4j.time.Date | neo4j.time.Time | neo4j.time.DateTime | neo4j.time.Duration):
        return value.iso_format()
    if isinstance(value, list | tuple):
        return [plain(v, ends) for v in value]
    if isinstance(value, dict):
        return {k: plain(v, ends) for k, v in value.items()}
    return value


def node_ref(node: neo4j.graph.Node) -> dict[str, Any]:
    """A node by its labels and the properties that name it (`NODE_IDS`)."""
    return {"labels": sorted(node.labels), **{k: node[k] for k in NODE_IDS if k in node}}


def _bare_ends(value: Any) -> set[str]:
    """The element ids of the relationship ends in `value` that the driver holds without labels or
    properties: a relationship returned without its nodes."""
    if isinstance(value, neo4j.graph.Relationship):
        return {n.element_id for n in value.nodes if not n.labels and not len(n)}
    if isinstance(value, list | tuple):
        return set().union(*map(_bare_ends, value))
    if isinstance(value, dict):
        return _bare_ends(list(value.values()))
    return set()


def _path_text(path: neo4j.graph.Path) -> str:
    """`ACEI -[Drug_Disease]-> 糖尿病肾病`: a path as one readable line, each arrow the way it points."""

    def name(node: neo4j.graph.Node) -> str:
        return _node_name(node, fallback=node.element_id)

    parts = [name(path.start_node)]
    for rel, node in zip(path.relationships, path.nodes[1:], strict=True):
        label = rel.get("relation", rel.type)
        forward = rel.start_node is not None and rel.start_node.element_id != node.element_id
        parts.append(f" -[{label}]-> " if forward else f" <-[{label}]- ")
        parts.append(name(node))
    return "".join(parts)


def _read(tx: neo4j.Transaction, cypher: str, params: Mapping[str, Any], limit: int) -> ReadResult:
    explain = _EXPLAIN + _EXPLAIN_OR_PROFILE.sub("", cypher)
    try:
        plan = tx.run(explain, params).consume()
    except neo4j.exceptions.ClientError as e:
        if not _POSITION.search(e.message or ""):
            raise
        raise GraphError(
            f"query failed: {_typed_positions(e.message, cypher, explain)}", hint=FIX_HINT
        ) from e
    refusal = _refusal(plan)
    if refusal is not None:
        raise refusal
    result = tx.run(cypher, params)
    records: list[neo4j.Record] = []
    truncated = False
    for record in result:
        if len(records) == limit:
            truncated = True
            break
        records.append(record)
    columns = list(result.keys())
    result.consume()  # discards what is left past the limit
    bare = _bare_ends([list(record.values()) for record in records])
    ends: dict[str, dict[str, Any]] = {}
    if bare:
        for row in tx.run(_ENDS, {"ids": sorted(bare)}):
            named = {k: v for k, v in row["ids"].items() if v is not None}
            ends[row["id"]] = {"labels": sorted(row["labels"]), **named}
    rows = [{key: plain(value, ends) for key, value in record.items()} for record in records]
    return ReadResult(columns, rows, truncated)


def _typed_positions(message: str, typed: str, planned: str) -> str:
    """The server's `message` about `planned` (`EXPLAIN ` and what was typed, less a typed EXPLAIN or
    PROFILE) with each position in it (line, column, offset, the quoted line and its caret) moved into
    `typed`, the text the person wrote and will correct."""
    shift = len(planned) - len(typed)  # `planned` ends with the same text as `typed`

    def moved(found: re.Match[str]) -> str:
        # Before what was typed (a query of comments only ends right after the EXPLAIN this module added):
        # the start of the typed text, so the quoted line is never one the person did not write.
        offset = max(int(found.group(1)) - shift, 0)
        start = typed.rfind("\n", 0, offset) + 1
        end = typed.find("\n", offset) if "\n" in typed[offset:] else len(typed)
        column = offset - start + 1
        where = f"(line {typed.count(chr(10), 0, offset) + 1}, column {column} (offset: {offset}))"
        if found.group(2) is None:
            return where
        return f'{where}\n"{typed[start:end]}"\n{" " * (_width(typed[start:offset]) + 1)}^'

    return _POSITION.sub(moved, message)


def _refusal(plan: neo4j.ResultSummary) -> ReadOnlyQueryError | None:
    """Why the server's plan of a query is no read of the graph, or None when it is one."""
    tree = plan.plan or {}
    operators = _operators(tree)
    if tree.get("args", {}).get("runtime") == SYSTEM_RUNTIME:
        return ReadOnlyQueryError(
            "refused: administration commands (users, databases, servers) do not run here",
            hint=READ_ONLY_HINT,
        )
    if plan.query_type != READ_QUERY_TYPE:
        what = "calls a procedure that is not read-only" if "ProcedureCall" in operators else "would write"
        return ReadOnlyQueryError(
            f"refused: this query {what} (query type {plan.query_type!r})", hint=READ_ONLY_HINT
        )
    commands = sorted(operators & COMMAND_OPERATORS)
    if commands:
        named = " and ".join(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", c).upper() for c in commands)
        return ReadOnlyQueryError(
            f"refused: {named} is a command about the server, not a query of the graph", hint=READ_ONLY_HINT
        )
    if operators & OUTSIDE_OPERATORS:
        return ReadOnlyQueryError(
            "refused: LOAD CSV reads files or URLs, not the graph",
            hint="Load data with `nrskg ingest`; " + READ_ONLY_HINT[0].lower() + READ_ONLY_HINT[1:],
        )
    return None


def _operators(plan: Mapping[str, Any]) -> set[str]:
    """Every operator in a plan tree, without its runtime suffix."""
    found = {str(plan.get("operatorType", "")).split("@")[0]}
    for child in plan.get("children", []):
        found |= _operators(child)
    return found


def read_table(
    driver: neo4j.Driver,
    cypher: str,
    params: Mapping[str, Any] | None = None,
    *,
    timeout: float,
    limit: int,
    database: str | None = None,
) -> ReadResult:
    """Run `cypher` read-only with a server-side `timeout` (seconds), keeping at most `limit` rows.

    One explicit READ transaction, run once: a person waits for the answer, so a server that is down fails at
    once rather than after the driver's retries, and a query past a memory limit is not run again.
    """
    if limit < 1:
        raise GraphError(f"row limit must be at least 1, got {limit}")
    try:
        with (
            driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as session,
            session.begin_transaction(timeout=timeout) as tx,
        ):
            return _read(tx, cypher, dict(params or {}), limit)
    except neo4j.exceptions.Neo4jError as e:
        raise _query_error(e, timeout) from e
    except (neo4j.exceptions.DriverError, OSError) as e:
        raise graph_error(e, "running the query") from e


def _query_error(e: neo4j.exceptions.Neo4jError, timeout: float) -> GraphError:
    """Our error for the server's refusal of a query: only a mistake in the query itself says to fix it."""
    if e.code == _ACCESS_MODE_CODE:
        return ReadOnlyQueryError(
            f"refused: no writing in a read transaction ({e.message})", hint=READ_ONLY_HINT
        )
    if e.code in ADMINISTRATION_CODES:
        return ReadOnlyQueryError(
            f"refused: administration commands do not run here ({e.message})", hint=READ_ONLY_HINT
        )
    if e.code in (MEMORY_POOL_CODE, HEAP_CODE):
        return memory_error(e, "the query", MEMORY_REMEDY)
    if e.code in TIMEOUT_CODES:
        return GraphError(
            f"the query did not finish within its time limit of {timeout:g} s",
            hint="Give it longer with `nrskg query --timeout SECONDS`, or ask for less (LIMIT, a narrower "
            "MATCH)",
        )
    if e.code == _PARAMETER_MISSING_CODE:
        return GraphError(f"query failed: {e.message}", hint="Give each with `--param NAME=VALUE`")
    if e.code == DATABASE_NOT_FOUND_CODE:  # NEO4J_DATABASE, not the query
        return graph_error(e, "running the query")
    if isinstance(e, neo4j.exceptions.ClientError) and not isinstance(e, neo4j.exceptions.AuthError):
        return GraphError(f"query failed: {e.message or e}", hint=FIX_HINT)
    return graph_error(e, "running the query")


def _width(text: str) -> int:
    """Display width: CJK characters take two terminal columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _cell(value: Any, max_width: int) -> str:
    if isinstance(value, float):
        text = f"{value:.3f}"  # confidences: three places say all a reader can use
    elif isinstance(value, dict) and "path" in value and "nodes" in value:
        text = value["path"]
    elif isinstance(value, dict) and "type" in value and isinstance(value.get("start"), dict):
        text = _relationship_text(value)
    else:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = text.replace("\n", " ")
    if _width(text) <= max_width:
        return text
    # The longest prefix that leaves a column for the ellipsis.
    fits = sum(1 for used in itertools.accumulate(map(_width, text)) if used <= max_width - 1)
    return text[:fits] + "…"


def _relationship_text(rel: Mapping[str, Any]) -> str:
    """`ACEI -[Drug_Disease]-> 糖尿病肾病`: a relationship as `plain` gives it, one line like a path."""
    start, end = _node_name(rel["start"], "?"), _node_name(rel["end"], "?")
    return f"{start} -[{rel.get('relation', rel['type'])}]-> {end}"


def _node_name(node: neo4j.graph.Node | Mapping[str, Any], fallback: str) -> str:
    """What a one-line path or relationship calls a node: an entity's name, a sentence's or document's id."""
    return str(next((node[k] for k in ("name", "sent_id", "doc_id", "key") if k in node), fallback))


def counted(n: int, noun: str, plural: str = "") -> str:
    """`1 row`, `2 rows`: a count with its noun in the number it takes."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def format_table(result: ReadResult, max_width: int = 60) -> str:
    """A plain-text table for a terminal, cells cut at `max_width` columns, with a note when rows were cut."""
    cells = [[_cell(row.get(c), max_width) for c in result.columns] for row in result.rows]
    widths = [max([_width(c)] + [_width(r[i]) for r in cells]) for i, c in enumerate(result.columns)]

    def line(values: list[str]) -> str:
        return "  ".join(v + " " * (w - _width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(result.columns), line(["-" * w for w in widths])] + [line(r) for r in cells]
    note = f"({counted(len(result.rows), 'row')}{', cut at the row limit' if result.truncated else ''})"
    return "\n".join(out + [note])
