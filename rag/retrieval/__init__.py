"""From a question to ranked passages: hybrid search, routing to the contract named, budgets in characters.

Entry point: `retrieve.Retriever` (`retrieve`, `search`).
"""
