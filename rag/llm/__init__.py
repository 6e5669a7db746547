"""Language-model backends behind one interface (llama.cpp embedded, Ollama, OpenAI-compatible, pools)."""
