"""Analysis: key-pattern inference, live sampling of a Redis keyspace, usage classification."""
