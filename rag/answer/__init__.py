"""Answers to questions: the context that fits the model's window, the prompt, and verified citations.

Entry points: `answer.stream_answer` (with `AnswerRequest`), `budget.plan_context`, `citations.find_citations`.
"""
