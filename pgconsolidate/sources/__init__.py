"""Source systems the tool reads from: connect, scan and stream records (Redis; Elasticsearch later)."""
