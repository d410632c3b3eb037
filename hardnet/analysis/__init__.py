"""Judging results: metrics (`metrics`), statistics (`stats`), groups and statuses (`summary`),
the expected picture (`expected`) and the report (`report`)."""
