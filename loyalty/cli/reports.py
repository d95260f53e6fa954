"""`flask --app wsgi loyalty report NAME ...`."""
