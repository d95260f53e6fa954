"""Payment providers. Only payments/stripe.py imports the stripe library."""
