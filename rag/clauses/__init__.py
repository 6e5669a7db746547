"""Clause review: the CUAD categories, the passages each is looked for in, the findings and their values.

Entry points: `stored.review_stored` (a stored document, by the engine the settings choose),
`locator.Locator` (the trained clause locator), `report.ClauseReport`, `categories.load_catalogue`,
`portfolio.csv_bytes` / `xlsx_bytes`.
"""
