"""Prefect flows and the `nrskg` command line: thin orchestration over pipeline, extractor and graph."""
