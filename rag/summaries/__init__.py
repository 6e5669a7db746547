"""Whole-document summaries: stuffed or map-reduced, key terms with verified quotes, coverage of pages."""
