"""Answers to questions: the context that fits the model's window, the prompt, and verified citations."""
