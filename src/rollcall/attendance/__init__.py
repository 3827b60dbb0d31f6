"""Attendance: the roll call of an event, who was there and for how long, as JSON or CSV."""
