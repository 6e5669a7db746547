"""The overnight batch: a plan of steps per file, a journal that makes it resumable, and the morning report.

Entry points: `run.run_batch` (with `plan.BatchPlan`), `folder.batch_status`, `steps.plan_steps`.
"""
