"""Where documents live: the registry of documents and pages, Chroma vectors, the BM25 index, the write lock.

Entry points: `store.Store`, `registry.Registry`, `embed.shared_embedder`, `locks.write_lock`.
"""
