"""Where documents live: the registry of documents and pages, Chroma vectors, the BM25 index, the write lock."""
