"""Whole-document summaries: stuffed or map-reduced, key terms with verified quotes, coverage of pages.

Entry points: `summarize.summarize_document`, `key_terms.key_term_summary`, `summary.Summary`.
"""
