"""`flask --app wsgi loyalty stripe-replay` and `stripe-sync`."""
