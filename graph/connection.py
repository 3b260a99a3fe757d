"""One way to open a Neo4j driver, so local, server, Aura and cluster differ only in `Neo4jSettings`."""

from __future__ import annotations

import neo4j
from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

from graph.settings import Neo4jSettings
from nrskg.errors import GraphError

USER_AGENT = "nrskg/0.1"


def driver(settings: Neo4jSettings | None = None) -> neo4j.Driver:
    """A driver for `settings` (default: from the environment). Opens no connection until first used.

    The caller closes it (`with driver(s) as d:`); the URI scheme chooses direct (bolt://) or routed (neo4j://,
    neo4j+s:// for Aura) connections, so nothing here knows which kind of server it is.
    """
    settings = settings or Neo4jSettings.from_env()
    try:
        return neo4j.GraphDatabase.driver(
            settings.uri,
            auth=settings.auth(),
            user_agent=USER_AGENT,
            # "label/property does not exist" on a graph that has no such node yet is noise, not a problem.
            notifications_disabled_classifications=[neo4j.NotificationDisabledClassification.UNRECOGNIZED],
        )
    except (ValueError, neo4j.exceptions.ConfigurationError) as e:
        raise GraphError(f"cannot use NEO4J_URI {settings.uri!r}: {e}") from e


def verify(drv: neo4j.Driver, uri: str) -> None:
    """Fail early with a GraphError that names the server (`uri`), not on the first write of a long run."""
    try:
        drv.verify_connectivity()
    except AuthError as e:
        raise GraphError(
            f"{uri} refused the credentials (check NEO4J_USER / NEO4J_PASSWORD): {e.message}"
        ) from e
    except (ServiceUnavailable, OSError) as e:
        raise GraphError(f"{uri} does not answer: {e}") from e
    except Neo4jError as e:
        raise GraphError(f"{uri}: {e.message}") from e
