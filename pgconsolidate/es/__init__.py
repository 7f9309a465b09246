"""The Elasticsearch source: client layer, analyzer, classifier, test corpus (and the copy/verify engines)."""
