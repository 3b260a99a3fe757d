"""One root exception for the whole project, with a subclass per layer.

The library raises; only the CLI (`flows.cli`) turns these into messages and exit codes.
"""


class NrskgError(Exception):
    """Root of every error this project raises on purpose."""


class DataFormatError(NrskgError):
    """Malformed input data. The message names the file and the line or record."""


class ModelError(NrskgError):
    """A model directory, configuration or encoder that cannot be used."""


class GraphError(NrskgError):
    """Neo4j could not be started, reached or written as asked."""


class UnknownRelationError(GraphError):
    """A relation type that is not in the whitelisted relation schema."""


class ReadOnlyQueryError(GraphError):
    """A query submitted for reading tried to write."""


class PipelineError(NrskgError):
    """A document or run folder that the pipeline cannot process."""
