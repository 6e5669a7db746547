"""Language-model backends behind one interface (llama.cpp embedded, Ollama, OpenAI-compatible, pools).

Entry points: `choose.choose_backend`, `base.LLMBackend`, `probe.ollama_status`, `degenerate.judge`.
"""
