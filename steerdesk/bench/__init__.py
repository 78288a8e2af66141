"""`steerdesk bench`: steerdesk's generation timed against plain `model.generate`
(harness.py), on the pocket pack and random models of real shapes (models.py), reported as a
Markdown table or JSON (report.py)."""
