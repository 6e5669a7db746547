"""Measurements against labelled data: retrieval on LegalBench-RAG queries, clause review on CUAD labels."""
