"""The config contract: pydantic models of the runner and job files, and their loader."""
