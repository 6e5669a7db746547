"""Measurements against labelled data: retrieval on LegalBench-RAG queries, clause review on CUAD labels.

Entry points: `retrieval.evaluate`, `clauses.evaluate_clauses`, `corpus.indexed_corpus`.
"""
