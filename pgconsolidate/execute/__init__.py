"""Executing a plan against the target: DDL (:mod:`.ddl`), copy engine, checkpoints."""
