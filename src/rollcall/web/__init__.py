"""The pages: the host dashboard and the participant join page."""
